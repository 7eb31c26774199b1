/** Something a queue orders: a priority (higher runs first) and arrival order. */
export interface Queued {
  readonly priority: number
  readonly seq: number
}

/**
 * The pool's queue, pluggable as in Piscina: any ordering works as long as
 * `remove` takes out a specific item (a cancelled task).
 */
export interface TaskQueue<T extends Queued> {
  readonly size: number
  push(item: T): void
  /** Puts back an item that was taken out (a task whose worker died) ahead of its peers. */
  pushFront(item: T): void
  shift(): T | undefined
  remove(item: T): boolean
}

/** Priority queue: higher `priority` first, then first in, first out. A binary heap. */
export class PriorityTaskQueue<T extends Queued> implements TaskQueue<T> {
  private heap: T[] = []
  private front: T[] = []

  get size(): number {
    return this.heap.length + this.front.length
  }

  push(item: T): void {
    const h = this.heap
    h.push(item)
    let i = h.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!before(h[i], h[p])) break
      ;[h[i], h[p]] = [h[p], h[i]]
      i = p
    }
  }

  pushFront(item: T): void {
    this.front.push(item)
  }

  shift(): T | undefined {
    if (this.front.length) return this.front.shift()
    const h = this.heap
    if (h.length === 0) return undefined
    const top = h[0]
    const last = h.pop() as T
    if (h.length) {
      h[0] = last
      this.siftDown(0)
    }
    return top
  }

  remove(item: T): boolean {
    const f = this.front.indexOf(item)
    if (f >= 0) {
      this.front.splice(f, 1)
      return true
    }
    const i = this.heap.indexOf(item)
    if (i < 0) return false
    const last = this.heap.pop() as T
    if (i < this.heap.length) {
      this.heap[i] = last
      this.siftDown(i)
      // it may also need to move up
      let j = i
      while (j > 0 && before(this.heap[j], this.heap[(j - 1) >> 1])) {
        const p = (j - 1) >> 1
        ;[this.heap[j], this.heap[p]] = [this.heap[p], this.heap[j]]
        j = p
      }
    }
    return true
  }

  private siftDown(i: number): void {
    const h = this.heap
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < h.length && before(h[l], h[m])) m = l
      if (r < h.length && before(h[r], h[m])) m = r
      if (m === i) return
      ;[h[i], h[m]] = [h[m], h[i]]
      i = m
    }
  }
}

function before(a: Queued, b: Queued): boolean {
  return a.priority !== b.priority ? a.priority > b.priority : a.seq < b.seq
}
