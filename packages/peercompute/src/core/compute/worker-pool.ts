import {
  AbortError,
  errorFromName,
  KernelNotFoundError,
  QueueFullError,
  StoppedError,
  TaskTimeoutError,
  UrlNotAllowedError,
  WorkerCrashedError,
} from '../errors.js'
import type { FromWorker, TaskMessage, TaskOutcome, ToWorker } from './messages.js'
import { PriorityTaskQueue, type Queued, type TaskQueue } from './queue.js'
import type { ContentPin } from './range-fetch.js'
import { type ResolvedUrlPolicy, resolveUrlPolicy, type UrlPolicy, urlPolicyToInit } from './url-policy.js'

/** What the pool needs of one worker; the platform (Node, browser) provides it. */
export interface WorkerHandle {
  post(msg: ToWorker, transfer: ArrayBuffer[]): void
  /** `onMessage` for each message; `onDeath` once, if the worker dies by itself. */
  start(onMessage: (msg: FromWorker) => void, onDeath: (err: Error) => void): void
  terminate(): Promise<void>
}

/** Options of a WorkerPool. */
export interface WorkerPoolInit {
  /** Starts one worker. */
  createWorker: () => WorkerHandle
  /** Logical cores of this machine. */
  cores: number
  /** Most workers (default: cores − 1, at least 1). */
  maxWorkers?: number
  /** Most of the cores to use, as a fraction (volunteers): caps `maxWorkers`. */
  maxCpuFraction?: number
  /** Most tasks waiting (default 10,000); beyond it `run` rejects with `QueueFullError`. */
  maxQueue?: number
  /** How long a cancelled or timed-out task may keep its worker before the worker is replaced (default 250 ms). */
  abortGraceMs?: number
  /** Tasks in flight per worker when tasks are tiny (default 64); pipelining hides thread wake-ups. */
  maxPipeline?: number
  /** The queue (default: priority, then FIFO). */
  queue?: TaskQueue<PoolTask>
  /** Which URLs the workers fetch for URL-range inputs (default: public http(s) hosts only). */
  urlPolicy?: UrlPolicy
}

/** Per-task options. */
export interface RunOptions {
  /** Kernel parameters (for the built-ins: `imm`, `key`, `seed`). */
  params?: unknown
  /** Higher runs first (default 0). */
  priority?: number
  signal?: AbortSignal
  /** Deadline from submission, in ms: past it the task fails with `TaskTimeoutError`. */
  timeoutMs?: number
  /** Buffers moved to the worker rather than copied (the caller loses them). */
  transfer?: ArrayBuffer[]
}

/** What a task gave: its output and, for a URL range, the content's validator. */
export interface PoolRunOutcome<T = unknown> {
  output: T
  validator?: ContentPin
}

/** Counters for status reports. */
export interface PoolStats {
  workers: number
  maxWorkers: number
  queued: number
  running: number
  completed: number
  failed: number
  workersReplaced: number
}

/** A task as the pool tracks it (exported for custom queues). */
export interface PoolTask extends Queued {
  readonly id: number
  readonly kernel: string
  readonly input: unknown
  readonly params: unknown
  readonly transfer: ArrayBuffer[]
  readonly resolve: (v: unknown, validator?: ContentPin) => void
  readonly reject: (e: Error) => void
  settled: boolean
  slot?: Slot
  sentAt: number
  cleanup?: () => void
}

interface Slot {
  readonly handle: WorkerHandle
  /** Tasks sent and not answered, in the order the worker runs them. Settled ones are cancelled leftovers. */
  readonly inflight: Map<number, PoolTask>
  outbox: PoolTask[]
  alive: boolean
  /** Moving average of task run time in ms; undefined until the first result. */
  avgMs?: number
  graceTimer?: ReturnType<typeof setTimeout>
}

const DEFAULTS = { maxQueue: 10_000, abortGraceMs: 250, maxPipeline: 64 }

/**
 * A pool of workers that run kernels by name. Tasks are queued by priority,
 * sent in batches and pipelined; cancellation, deadlines, crashes and `stop()`
 * never leave a task unsettled.
 */
export class WorkerPool {
  readonly maxWorkers: number
  /** The URL policy every worker enforces. */
  readonly urlPolicy: ResolvedUrlPolicy
  private readonly init: WorkerPoolInit & typeof DEFAULTS
  private readonly queue: TaskQueue<PoolTask>
  private readonly slots: Slot[] = []
  private readonly registrations = new Map<string, string>()
  private nextId = 1
  private flushScheduled = false
  private stopped = false
  private completed = 0
  private failed = 0
  private replaced = 0

  constructor(init: WorkerPoolInit) {
    this.init = { ...init, ...DEFAULTS, ...stripUndefined(init) }
    const cores = Math.max(1, Math.floor(init.cores))
    let max = init.maxWorkers ?? Math.max(1, cores - 1)
    if (init.maxCpuFraction !== undefined) {
      if (!(init.maxCpuFraction > 0 && init.maxCpuFraction <= 1)) {
        throw new RangeError(`maxCpuFraction must be in (0, 1], got ${init.maxCpuFraction}`)
      }
      max = Math.min(max, Math.max(1, Math.floor(cores * init.maxCpuFraction)))
    }
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxWorkers must be an integer ≥ 1, got ${max}`)
    this.maxWorkers = max
    this.urlPolicy = resolveUrlPolicy(init.urlPolicy)
    this.queue = init.queue ?? new PriorityTaskQueue<PoolTask>()
  }

  /** Makes kernel `name` available in every worker: `moduleUrl` exports `(input, params, { signal }) => output`. */
  registerKernel(name: string, moduleUrl: string): void {
    if (typeof name !== 'string' || name === '') throw new TypeError('kernel name must be a non-empty string')
    if (typeof moduleUrl !== 'string' || moduleUrl === '') throw new TypeError('moduleUrl must be a non-empty string')
    this.registrations.set(name, moduleUrl)
    for (const s of this.slots) s.handle.post({ type: 'register', name, moduleUrl }, [])
  }

  /** Forgets kernel `name` in every worker (its module is dropped once nothing holds it); unknown names are ignored. */
  unregisterKernel(name: string): void {
    if (!this.registrations.delete(name)) return
    for (const s of this.slots) s.handle.post({ type: 'unregister', name }, [])
  }

  /** Names of the kernels registered with `registerKernel` (the built-ins are always there). */
  registeredKernels(): string[] {
    return [...this.registrations.keys()]
  }

  /** Runs kernel `kernel` over `input` on some worker. */
  run<T = unknown>(kernel: string, input: unknown, opts: RunOptions = {}): Promise<T> {
    return this.submit(kernel, input, opts, (output) => output as T)
  }

  /** Like `run`, and also says which version of a URL range's content the output came from. */
  runWithValidator<T = unknown>(kernel: string, input: unknown, opts: RunOptions = {}): Promise<PoolRunOutcome<T>> {
    return this.submit(kernel, input, opts, (output, validator) =>
      validator ? { output: output as T, validator } : { output: output as T },
    )
  }

  private submit<R>(
    kernel: string,
    input: unknown,
    opts: RunOptions,
    shape: (output: unknown, validator?: ContentPin) => R,
  ): Promise<R> {
    if (this.stopped) return Promise.reject(new StoppedError('the pool is stopped'))
    if (opts.signal?.aborted) return Promise.reject(new AbortError('aborted before it was queued'))
    if (this.queue.size >= this.init.maxQueue) {
      return Promise.reject(new QueueFullError(`the queue is full (${this.init.maxQueue} tasks waiting)`))
    }
    return new Promise<R>((resolve, reject) => {
      const task: PoolTask = {
        id: this.nextId++,
        seq: this.nextId,
        priority: opts.priority ?? 0,
        kernel,
        input,
        params: opts.params,
        transfer: opts.transfer ?? [],
        resolve: (output, validator) => resolve(shape(output, validator)),
        reject,
        settled: false,
        sentAt: 0,
      }
      this.watch(task, opts)
      this.queue.push(task)
      this.dispatch()
    })
  }

  /** Counters right now. */
  stats(): PoolStats {
    let running = 0
    for (const s of this.slots) for (const t of s.inflight.values()) if (!t.settled) running++
    return {
      workers: this.slots.length,
      maxWorkers: this.maxWorkers,
      queued: this.queue.size,
      running,
      completed: this.completed,
      failed: this.failed,
      workersReplaced: this.replaced,
    }
  }

  /** Fails every waiting and running task with `StoppedError` and terminates every worker. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    const err = () => new StoppedError('the pool was stopped')
    for (let t = this.queue.shift(); t; t = this.queue.shift()) this.settle(t, err())
    const slots = this.slots.splice(0)
    for (const s of slots) {
      s.alive = false
      clearTimeout(s.graceTimer)
      for (const t of s.inflight.values()) this.settle(t, err())
    }
    await Promise.all(slots.map((s) => s.handle.terminate()))
  }

  private watch(task: PoolTask, opts: RunOptions): void {
    const { signal, timeoutMs } = opts
    let timer: ReturnType<typeof setTimeout> | undefined
    const onAbort = () => this.cancel(task, new AbortError('the task was aborted'))
    if (timeoutMs !== undefined) {
      if (!(timeoutMs > 0)) throw new RangeError(`timeoutMs must be > 0, got ${timeoutMs}`)
      timer = setTimeout(() => this.cancel(task, new TaskTimeoutError(`no result within ${timeoutMs} ms`)), timeoutMs)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    if (timer !== undefined || signal) {
      task.cleanup = () => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
      }
    }
  }

  private settle(task: PoolTask, err: Error | undefined, output?: unknown, validator?: ContentPin): void {
    if (task.settled) return
    task.settled = true
    task.cleanup?.()
    if (err) {
      this.failed++
      task.reject(err)
    } else {
      this.completed++
      task.resolve(output, validator)
    }
  }

  /** Abort or deadline: settle now; a worker still running it gets a grace period, then is replaced. */
  private cancel(task: PoolTask, err: Error): void {
    if (task.settled) return
    const slot = task.slot
    if (!slot) {
      this.queue.remove(task)
      this.settle(task, err)
      return
    }
    this.settle(task, err)
    const i = slot.outbox.indexOf(task)
    if (i >= 0) {
      slot.outbox.splice(i, 1)
      slot.inflight.delete(task.id)
      return
    }
    slot.handle.post({ type: 'cancel', id: task.id }, [])
    slot.graceTimer ??= setTimeout(() => {
      slot.graceTimer = undefined
      const stuck = [...slot.inflight.values()].some((t) => t.settled)
      if (stuck && slot.alive) this.replace(slot)
    }, this.init.abortGraceMs)
  }

  /**
   * Tasks a worker may hold at once. Tiny tasks are pipelined deeply; others two
   * deep, so the worker never waits for its next task; an unmeasured worker one,
   * so that a long first task does not trap others (or priorities) behind it.
   */
  private limit(slot: Slot): number {
    if (slot.avgMs === undefined) return 1
    return slot.avgMs < 0.2 ? this.init.maxPipeline : 2
  }

  private dispatch(): void {
    while (this.queue.size > 0 && !this.stopped) {
      let best: Slot | undefined
      for (const s of this.slots) {
        if (s.inflight.size < this.limit(s) && (!best || s.inflight.size < best.inflight.size)) best = s
      }
      if ((!best || best.inflight.size > 0) && this.slots.length < this.maxWorkers) best = this.spawn()
      if (!best) return
      const task = this.queue.shift() as PoolTask
      task.slot = best
      task.sentAt = performance.now()
      best.inflight.set(task.id, task)
      best.outbox.push(task)
      if (!this.flushScheduled) {
        this.flushScheduled = true
        queueMicrotask(this.flush)
      }
    }
  }

  private readonly flush = (): void => {
    this.flushScheduled = false
    for (const s of this.slots) {
      if (s.outbox.length === 0) continue
      const tasks: TaskMessage[] = s.outbox.map((t) => ({
        id: t.id,
        kernel: t.kernel,
        input: t.input,
        params: t.params,
      }))
      const transfer = s.outbox.flatMap((t) => t.transfer)
      s.outbox = []
      try {
        s.handle.post({ type: 'tasks', tasks }, transfer)
      } catch (err) {
        // unclonable input: fail those tasks, not the worker
        for (const m of tasks) {
          const t = s.inflight.get(m.id)
          if (!t) continue
          s.inflight.delete(m.id)
          this.settle(t, new TypeError(`task input cannot be sent to a worker: ${(err as Error).message}`))
        }
      }
    }
  }

  private spawn(): Slot {
    const slot: Slot = { handle: this.init.createWorker(), inflight: new Map(), outbox: [], alive: true }
    this.slots.push(slot)
    slot.handle.post({ type: 'init', urlPolicy: urlPolicyToInit(this.urlPolicy) }, [])
    for (const [name, moduleUrl] of this.registrations) slot.handle.post({ type: 'register', name, moduleUrl }, [])
    slot.handle.start(
      (msg) => this.onResults(slot, msg.results),
      (err) => this.onDeath(slot, err),
    )
    return slot
  }

  private onResults(slot: Slot, results: TaskOutcome[]): void {
    const now = performance.now()
    for (const r of results) {
      const task = slot.inflight.get(r.id)
      if (!task) continue
      slot.inflight.delete(r.id)
      const ms = now - task.sentAt
      slot.avgMs = slot.avgMs === undefined ? ms / results.length : slot.avgMs * 0.8 + (ms / results.length) * 0.2
      if (r.ok) this.settle(task, undefined, r.output, r.validator)
      else this.settle(task, toError(r))
    }
    this.dispatch()
  }

  private onDeath(slot: Slot, err: Error): void {
    if (!slot.alive) return
    // the worker runs tasks in order: the first one in flight is the one it died on
    const first = slot.inflight.values().next().value
    if (first) {
      slot.inflight.delete(first.id)
      this.settle(first, new WorkerCrashedError(`the worker died running ${first.kernel}: ${err.message}`))
    }
    this.retire(slot)
    this.dispatch()
  }

  private replace(slot: Slot): void {
    this.retire(slot)
    void slot.handle.terminate()
    this.dispatch()
  }

  /**
   * Takes a slot out of service. Its unfinished tasks go back to the front of
   * the queue, except those whose input was transferred: it left with the worker.
   */
  private retire(slot: Slot): void {
    slot.alive = false
    clearTimeout(slot.graceTimer)
    const i = this.slots.indexOf(slot)
    if (i >= 0) this.slots.splice(i, 1)
    this.replaced++
    for (const t of slot.inflight.values()) {
      if (t.settled) continue
      t.slot = undefined
      if (t.transfer.length > 0) {
        this.settle(t, new WorkerCrashedError('the worker holding this task was lost, with its transferred input'))
      } else {
        this.queue.pushFront(t)
      }
    }
    slot.inflight.clear()
    slot.outbox = []
  }
}

function toError(r: Extract<TaskOutcome, { ok: false }>): Error {
  if (r.notFound) return new KernelNotFoundError(`no kernel named ${JSON.stringify(r.message)} is registered`)
  // our own worker's refusal keeps its class (errorFromName rebuilds only names a peer may send)
  if (r.errorName === 'UrlNotAllowedError') return new UrlNotAllowedError(r.message)
  return errorFromName(r.errorName, r.message)
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>
}
