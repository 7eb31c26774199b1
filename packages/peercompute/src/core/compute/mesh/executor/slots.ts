/**
 * A counting semaphore whose waiters leave when their signal aborts: `size`
 * holders at once, the rest wait in order. Waiters are bounded by whoever
 * admits them (the ledger's task limits).
 */
export class Slots {
  private readonly size: number
  private used = 0
  private readonly waiting = new Set<() => void>()

  constructor(size: number) {
    this.size = Math.max(1, Math.floor(size))
  }

  /** Holders now. */
  get busy(): number {
    return this.used
  }

  /** Waiters now. */
  get queued(): number {
    return this.waiting.size
  }

  /** Resolves with a release function once a slot is free; rejects with the signal's reason if it aborts first. */
  acquire(signal: AbortSignal): Promise<() => void> {
    if (signal.aborted) return Promise.reject(signal.reason)
    if (this.used < this.size) {
      this.used++
      return Promise.resolve(this.releaser())
    }
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal.removeEventListener('abort', onAbort)
        this.waiting.delete(grant)
        this.used++
        resolve(this.releaser())
      }
      const onAbort = () => {
        this.waiting.delete(grant)
        reject(signal.reason)
      }
      signal.addEventListener('abort', onAbort, { once: true })
      this.waiting.add(grant)
    })
  }

  private releaser(): () => void {
    let done = false
    return () => {
      if (done) return
      done = true
      this.used--
      const next = this.waiting.values().next()
      if (!next.done) next.value()
    }
  }
}
