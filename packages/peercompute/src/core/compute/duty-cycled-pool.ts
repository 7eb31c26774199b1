import type { CodePool } from '../code/code-store.js'
import { AbortError, QueueFullError, StoppedError } from '../errors.js'
import type { DutyCycle } from './duty-cycle.js'

// Traveling code under a volunteer's CPU cap: the same rule as the built-in
// workers' (`DutyCycle.wrap`), kept here in front of a pool that has its own
// queue (the browser's sandboxes): `lanes` tasks at most run at once (and no
// more than the cycle's `maxRunning` allows, with the workers' tasks), and a
// lane rests t·(1−cap)/cap ms after a task that ran t ms. A pause refuses what
// waits (`QueueFullError`, read by peers as "busy") and lets what runs finish.

interface Waiting {
  readonly start: () => void
  readonly reject: (err: Error) => void
  readonly signal?: AbortSignal
  onAbort?: () => void
}

interface Lane {
  busy: boolean
  rest?: ReturnType<typeof setTimeout>
}

/** Options of a DutyCycledPool. */
export interface DutyCycledPoolInit {
  /** Tasks running at once at most (the inner pool's workers). */
  lanes: number
  /** Most tasks waiting here (default 10,000). */
  maxQueue?: number
}

/** A `CodePool` whose tasks obey a `DutyCycle`: its cap, its pause and its counters. */
export class DutyCycledPool implements CodePool {
  private readonly lanes: Lane[]
  private readonly waiting: Waiting[] = []
  private readonly maxQueue: number
  private readonly unsubscribe: () => void
  private readonly inner: CodePool
  private readonly duty: DutyCycle
  private stopped = false

  constructor(inner: CodePool, duty: DutyCycle, init: DutyCycledPoolInit) {
    this.inner = inner
    this.duty = duty
    if (!(Number.isInteger(init.lanes) && init.lanes >= 1)) throw new RangeError('lanes must be an integer ≥ 1')
    this.lanes = Array.from({ length: init.lanes }, () => ({ busy: false }))
    this.maxQueue = init.maxQueue ?? 10_000
    this.unsubscribe = duty.attach({ refuse: () => this.refuseWaiting(), pump: () => this.pump() })
  }

  /** Passed to the inner pool. */
  registerKernel(name: string, moduleUrl: string): void {
    this.inner.registerKernel(name, moduleUrl)
  }

  /** Passed to the inner pool. */
  unregisterKernel(name: string): void {
    this.inner.unregisterKernel(name)
  }

  /** Runs on the inner pool once a lane is free and rested; `QueueFullError` while paused. */
  run<T = unknown>(
    kernel: string,
    input: unknown,
    opts: { params?: unknown; signal?: AbortSignal; transfer?: ArrayBuffer[]; timeoutMs?: number },
  ): Promise<T> {
    if (this.stopped) return Promise.reject(new StoppedError('the pool stopped'))
    if (opts.signal?.aborted) return Promise.reject(opts.signal.reason ?? new AbortError('cancelled'))
    if (this.duty.paused) {
      this.duty.countRefused(1)
      return Promise.reject(new QueueFullError('the volunteer is paused'))
    }
    if (this.waiting.length >= this.maxQueue) return Promise.reject(new QueueFullError('the queue is full'))
    return new Promise<T>((resolve, reject) => {
      const w: Waiting = {
        reject,
        ...(opts.signal ? { signal: opts.signal } : {}),
        start: () => {
          const lane = this.lanes.find((l) => !l.busy && l.rest === undefined) as Lane
          lane.busy = true
          const end = this.duty.begin()
          this.inner
            .run<T>(kernel, input, opts)
            .then(resolve, reject)
            .finally(() => this.rest(lane, end()))
        },
      }
      if (opts.signal) {
        const signal = opts.signal
        w.onAbort = () => this.drop(w, (signal.reason as Error | undefined) ?? new AbortError('cancelled'))
        signal.addEventListener('abort', w.onAbort, { once: true })
      }
      this.waiting.push(w)
      this.pump()
    })
  }

  /** Refuses what waits (`StoppedError`), clears the rests, and stops the inner pool. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    this.unsubscribe()
    for (const l of this.lanes) clearTimeout(l.rest)
    const err = new StoppedError('the pool stopped')
    for (const w of this.waiting.splice(0)) this.settle(w, err)
    await this.inner.stop()
  }

  private pump(): void {
    if (this.stopped) return
    // the cycle's `maxRunning` counts the built-in workers' tasks too: the lent cores are shared
    while (this.waiting.length > 0 && this.duty.canStart && this.lanes.some((l) => !l.busy && l.rest === undefined)) {
      const w = this.waiting.shift() as Waiting
      if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort)
      w.start()
    }
  }

  private rest(lane: Lane, ms: number): void {
    lane.busy = false
    const rest = this.duty.restAfter(ms)
    if (rest >= 1 && !this.stopped)
      lane.rest = setTimeout(() => {
        lane.rest = undefined
        this.pump()
      }, rest)
    this.pump()
  }

  private refuseWaiting(): void {
    const refused = this.waiting.splice(0)
    this.duty.countRefused(refused.length)
    for (const w of refused) this.settle(w, new QueueFullError('the volunteer is paused'))
  }

  private drop(w: Waiting, err: Error): void {
    const i = this.waiting.indexOf(w)
    if (i >= 0) this.waiting.splice(i, 1)
    this.settle(w, err)
  }

  private settle(w: Waiting, err: Error): void {
    if (w.onAbort) w.signal?.removeEventListener('abort', w.onAbort)
    w.reject(err)
  }
}
