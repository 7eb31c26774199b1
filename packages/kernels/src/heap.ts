/** First-fit allocator over a range of wasm linear memory, with coalescing. */
export class Heap {
  /** Free ranges, sorted by start, never adjacent. */
  private readonly freeList: Array<{ start: number; end: number }> = []
  private readonly used = new Map<number, number>()
  static readonly ALIGN = 64

  /** Grows memory to end at or after `minEnd` and returns its end (with a smaller `minEnd`, just the end). */
  private readonly grow: (minEnd: number) => number

  constructor(start: number, end: number, grow: (minEnd: number) => number) {
    this.grow = grow
    if (end > start) this.freeList.push({ start, end })
  }

  alloc(size: number): number {
    const need = Math.max(Heap.ALIGN, Math.ceil(size / Heap.ALIGN) * Heap.ALIGN)
    let idx = this.freeList.findIndex((r) => r.end - r.start >= need)
    if (idx < 0) {
      const last = this.freeList.at(-1)
      const oldEnd = this.memoryEnd()
      const tailFree = last && last.end === oldEnd ? last.end - last.start : 0
      const newEnd = this.grow(oldEnd + need - tailFree)
      this.insertFree(oldEnd, newEnd)
      idx = this.freeList.findIndex((r) => r.end - r.start >= need)
    }
    const r = this.freeList[idx]
    const ptr = r.start
    r.start += need
    if (r.start === r.end) this.freeList.splice(idx, 1)
    this.used.set(ptr, need)
    return ptr
  }

  release(ptr: number): void {
    const size = this.used.get(ptr)
    if (size === undefined) throw new RangeError(`free: no live allocation at ${ptr} (freed twice?)`)
    this.used.delete(ptr)
    this.insertFree(ptr, ptr + size)
  }

  /** Bytes currently allocated. */
  get allocatedBytes(): number {
    let n = 0
    for (const s of this.used.values()) n += s
    return n
  }

  private memoryEnd = (): number => this.grow(0)

  private insertFree(start: number, end: number): void {
    const list = this.freeList
    let i = 0
    while (i < list.length && list[i].start < start) i++
    list.splice(i, 0, { start, end })
    // coalesce with the next, then with the previous
    if (i + 1 < list.length && list[i].end === list[i + 1].start) {
      list[i].end = list[i + 1].end
      list.splice(i + 1, 1)
    }
    if (i > 0 && list[i - 1].end === list[i].start) {
      list[i - 1].end = list[i].end
      list.splice(i, 1)
    }
  }
}
