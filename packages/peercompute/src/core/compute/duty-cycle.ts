import type { FromWorker, TaskMessage, TaskOutcome, ToWorker } from './messages.js'
import type { WorkerHandle } from './worker-pool.js'

// A volunteer's CPU cap, kept by resting: after a task that took t ms a worker
// rests t·(1−cap)/cap ms before its next one, so each lent core is busy at most
// `cap` of the time. A pause refuses what waits and lets what runs finish.

/** Counters of a DutyCycle, for the volunteer's panel and the benchmark. */
export interface DutyCycleStats {
  /** Tasks handed to a worker (the ones that started). */
  started: number
  /** Tasks a worker answered. */
  finished: number
  /** Tasks refused because the cycle was paused (the submitter places them elsewhere). */
  refused: number
  /** Milliseconds the workers spent running tasks (those running now so far), summed over workers. */
  busyMs: number
  /** Tasks running in a worker now. */
  running: number
}

/** The `errorName` of a task refused while paused: a peer reads it as "busy", and places the piece elsewhere. */
export const PAUSED_ERROR = 'QueueFullError'

interface Wrapped {
  held: TaskMessage[]
  refuseHeld(): void
  /** Starts a held task if this worker and the cycle allow it. */
  pump(): void
}

/**
 * Caps the share of time each worker of a pool is busy (`cap` in (0, 1]) and
 * can pause them all. Wrap each worker the pool creates with `wrap`: tasks
 * reach the worker one at a time, after the rest the last one earned.
 */
export class DutyCycle {
  private capValue: number
  private pausedNow = false
  private readonly live = new Set<Pick<Wrapped, 'refuseHeld' | 'pump'>>()
  private readonly maxRunning: number
  private readonly listeners = new Set<(s: DutyCycleStats) => void>()
  private readonly counters: DutyCycleStats = { started: 0, finished: 0, refused: 0, busyMs: 0, running: 0 }
  /** When each task running now started, by worker. */
  private readonly since = new Map<object, number>()

  /**
   * `maxRunning`: tasks running at once at most, over every worker and pool
   * this cycle holds (the lent cores: a volunteer's built-in workers and its
   * sandboxes share them); default unbounded.
   */
  constructor(cap = 1, maxRunning = Number.POSITIVE_INFINITY) {
    this.capValue = checkCap(cap)
    if (!(maxRunning >= 1)) throw new RangeError(`maxRunning must be at least 1, got ${maxRunning}`)
    this.maxRunning = maxRunning
  }

  /** True when one more task may start now (not paused, fewer than `maxRunning` running). */
  get canStart(): boolean {
    return !this.pausedNow && this.counters.running < this.maxRunning
  }

  /** A task ended: a worker or pool held back by `maxRunning` may start one. */
  private freed(): void {
    if (this.maxRunning === Number.POSITIVE_INFINITY) return
    for (const w of this.live) {
      if (this.counters.running >= this.maxRunning) return
      w.pump()
    }
  }

  /** The busy share each worker is held to. */
  get cap(): number {
    return this.capValue
  }

  set cap(value: number) {
    this.capValue = checkCap(value)
  }

  /** True while tasks are refused. */
  get paused(): boolean {
    return this.pausedNow
  }

  /** Refuses every task not yet started (now and until `resume`); running ones finish. */
  pause(): void {
    this.pausedNow = true
    for (const w of this.live) w.refuseHeld()
  }

  /** Accepts tasks again. */
  resume(): void {
    this.pausedNow = false
  }

  /** A copy of the counters. */
  stats(): DutyCycleStats {
    const now = performance.now()
    let running = 0
    for (const at of this.since.values()) running += now - at
    return { ...this.counters, busyMs: this.counters.busyMs + running }
  }

  /**
   * For a pool that keeps its own queue (a sandbox pool, see `DutyCycledPool`):
   * counts a task that starts now; the returned function counts its end and
   * gives how long it ran, ms (call it once).
   */
  begin(): () => number {
    const key = {}
    const at = performance.now()
    this.since.set(key, at)
    this.counters.started++
    this.counters.running++
    this.changed()
    return () => {
      if (!this.since.delete(key)) return 0
      const ms = performance.now() - at
      this.counters.finished++
      this.counters.running--
      this.counters.busyMs += ms
      this.changed()
      this.freed()
      return ms
    }
  }

  /** For a pool that keeps its own queue: counts `n` tasks it refused while paused. */
  countRefused(n: number): void {
    this.counters.refused += n
  }

  /**
   * For a pool that keeps its own queue: `refuse` is called on each pause, and
   * `pump` when a task ended elsewhere (a start held back by `maxRunning` may
   * go now); returns what unsubscribes.
   */
  attach(hooks: { refuse(): void; pump(): void }): () => void {
    const entry = { refuseHeld: () => hooks.refuse(), pump: () => hooks.pump() }
    this.live.add(entry)
    return () => this.live.delete(entry)
  }

  /** How long a worker rests after a task that ran `ms`, to keep its busy share at the cap. */
  restAfter(ms: number): number {
    return (ms * (1 - this.capValue)) / this.capValue
  }

  /** Calls `fn` whenever a task starts or finishes; returns what unsubscribes. */
  onChange(fn: (s: DutyCycleStats) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  private changed(): void {
    if (this.listeners.size === 0) return
    const s = this.stats()
    for (const fn of this.listeners) fn(s)
  }

  /** A worker handle that obeys this cycle, around `inner`. */
  wrap(inner: WorkerHandle): WorkerHandle {
    const c = this.counters
    let deliver: ((msg: FromWorker) => void) | undefined
    let current: { id: number; at: number } | undefined
    let restTimer: ReturnType<typeof setTimeout> | undefined
    let dead = false
    // answers given here, not by the worker: later, never inside the pool's own call
    const answer = (results: TaskOutcome[]) => {
      if (results.length) queueMicrotask(() => !dead && deliver?.({ type: 'results', results }))
    }
    const refusal = (id: number): TaskOutcome => ({
      id,
      ok: false,
      errorName: PAUSED_ERROR,
      message: 'the volunteer is paused',
    })
    const self: Wrapped = {
      held: [],
      pump: () => pump(),
      refuseHeld: () => {
        const refused = self.held.splice(0)
        c.refused += refused.length
        answer(refused.map((t) => refusal(t.id)))
      },
    }
    const pump = () => {
      if (dead || current || restTimer !== undefined || self.held.length === 0) return
      if (this.pausedNow) return self.refuseHeld()
      if (this.counters.running >= this.maxRunning) return
      const t = self.held.shift() as TaskMessage
      current = { id: t.id, at: performance.now() }
      this.since.set(self, current.at)
      c.started++
      c.running++
      // copied, not transferred: a held task's buffers stay valid for the pool's retries
      inner.post({ type: 'tasks', tasks: [t] }, [])
      this.changed()
    }
    const onResults = (msg: FromWorker) => {
      if (current && msg.results.some((r) => r.id === current?.id)) {
        const ms = performance.now() - current.at
        current = undefined
        this.since.delete(self)
        c.finished++
        c.running--
        c.busyMs += ms
        const rest = this.restAfter(ms)
        if (rest >= 1) {
          restTimer = setTimeout(() => {
            restTimer = undefined
            pump()
          }, rest)
        }
        this.changed()
        deliver?.(msg)
        pump()
        this.freed()
        return
      }
      deliver?.(msg)
      pump()
    }
    this.live.add(self)
    const release = () => {
      dead = true
      clearTimeout(restTimer)
      this.live.delete(self)
      this.since.delete(self)
      const freed = current !== undefined
      if (current) c.running--
      current = undefined
      self.held = []
      if (freed) this.freed()
    }
    return {
      post: (msg: ToWorker, transfer: ArrayBuffer[]) => {
        if (msg.type === 'tasks') {
          if (this.pausedNow) {
            c.refused += msg.tasks.length
            answer(msg.tasks.map((t) => refusal(t.id)))
            return
          }
          self.held.push(...msg.tasks)
          return pump()
        }
        if (msg.type === 'cancel') {
          const i = self.held.findIndex((t) => t.id === msg.id)
          if (i >= 0) {
            self.held.splice(i, 1)
            return answer([{ id: msg.id, ok: false, errorName: 'AbortError', message: 'cancelled' }])
          }
        }
        inner.post(msg, transfer)
      },
      start: (onMessage, onDeath) => {
        deliver = onMessage
        inner.start(onResults, (err) => {
          release()
          onDeath(err)
        })
      },
      terminate: () => {
        release()
        return inner.terminate()
      },
    }
  }
}

function checkCap(cap: number): number {
  if (!(typeof cap === 'number' && cap > 0 && cap <= 1))
    throw new RangeError(`the CPU cap must be in (0, 1], got ${cap}`)
  return cap
}
