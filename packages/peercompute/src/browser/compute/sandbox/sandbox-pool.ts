import type { CodePool } from '../../../core/code/code-store.js'
import { decodeBatch, MAP_KERNEL } from '../../../core/compute/mesh/map/batch-codec.js'
import { mapBatchParams } from '../../../core/compute/mesh/map/run-batch.js'
import {
  AbortError,
  KernelError,
  KernelNotFoundError,
  QueueFullError,
  StoppedError,
  TaskTimeoutError,
  WorkerCrashedError,
} from '../../../core/errors.js'
import { SandboxFrame } from './sandbox-frame.js'
import { batchOutput, taskOutput } from './sandbox-reply.js'

/** Options of a SandboxPool. */
export interface SandboxPoolInit {
  /** Sandboxes (one worker each) at most (default: cores − 1, at least 1). */
  maxWorkers?: number
  /** Most of the cores to use, as a fraction: caps `maxWorkers`. */
  maxCpuFraction?: number
  /** Most tasks waiting (default 10,000). */
  maxQueue?: number
  /** How long a sandbox may take to start, ms (default 10,000). */
  startTimeoutMs?: number
}

interface Task {
  readonly id: number
  readonly name: string
  readonly input: unknown
  readonly params: unknown
  /** A map batch: `input` is its items, and the results go back as a batch of `count`. */
  readonly count?: number
  readonly timeoutMs?: number
  readonly signal?: AbortSignal
  readonly resolve: (v: unknown) => void
  readonly reject: (e: Error) => void
  settled: boolean
  onAbort?: () => void
}

interface Slot {
  frame: SandboxFrame
  ready: boolean
  task?: Task
  timer?: ReturnType<typeof setTimeout>
}

/**
 * The browser's pool for traveling code (a `CodePool`): each kernel runs in a
 * Worker inside its own sandboxed iframe (an opaque origin), never in the
 * page's workers. One task at a time per sandbox; a task that times out or is
 * cancelled, or a sandbox that misbehaves, ends that sandbox (a fresh one takes
 * its place). A map batch's items are decoded and its results encoded here, in
 * the page, so the sandbox sees plain values and every result is checked.
 */
export class SandboxPool implements CodePool {
  readonly maxWorkers: number
  private readonly init: SandboxPoolInit
  private readonly kernels = new Map<string, string>()
  private readonly slots = new Set<Slot>()
  private readonly queue: Task[] = []
  private nextId = 1
  private stopped = false

  constructor(init: SandboxPoolInit = {}) {
    if (typeof document === 'undefined') throw new TypeError('the sandbox pool needs a page (document)')
    this.init = init
    const cores = Math.max(1, navigator.hardwareConcurrency ?? 2)
    let max = init.maxWorkers ?? Math.max(1, cores - 1)
    if (init.maxCpuFraction !== undefined) max = Math.min(max, Math.max(1, Math.floor(cores * init.maxCpuFraction)))
    this.maxWorkers = max
  }

  /** Makes verified kernel `name` (a `data:` module URL) runnable in every sandbox. */
  registerKernel(name: string, moduleUrl: string): void {
    this.kernels.set(name, moduleUrl)
    for (const s of this.slots) s.frame.post({ t: 'load', name, url: moduleUrl })
  }

  /** Forgets kernel `name` in every sandbox. */
  unregisterKernel(name: string): void {
    this.kernels.delete(name)
    for (const s of this.slots) s.frame.post({ t: 'drop', name })
  }

  /**
   * Runs `kernel` over `input` in a sandbox; `@map` with `params.kernel` runs a
   * map batch (bytes in, bytes out). `KernelNotFoundError` for a kernel not
   * registered, `QueueFullError`, `TaskTimeoutError`, `AbortError`, `StoppedError`.
   */
  run<T = unknown>(
    kernel: string,
    input: unknown,
    opts: { params?: unknown; signal?: AbortSignal; transfer?: ArrayBuffer[]; timeoutMs?: number },
  ): Promise<T> {
    if (this.stopped) return Promise.reject(new StoppedError('the sandbox pool stopped'))
    if (opts.signal?.aborted) return Promise.reject(opts.signal.reason ?? new AbortError('cancelled'))
    let name = kernel
    let params = opts.params
    let items: unknown[] | undefined
    try {
      if (kernel === MAP_KERNEL) {
        const p = mapBatchParams(opts.params)
        name = p.kernel
        params = p.params
        if (!(input instanceof Uint8Array)) throw new TypeError('a map batch input must be bytes')
        items = decodeBatch(input)
      }
    } catch (err) {
      return Promise.reject(err)
    }
    if (!this.kernels.has(name)) return Promise.reject(new KernelNotFoundError(`no traveling kernel named "${name}"`))
    if (this.queue.length >= (this.init.maxQueue ?? 10_000))
      return Promise.reject(new QueueFullError('the sandbox queue is full'))
    return new Promise<T>((resolve, reject) => {
      const task: Task = {
        id: this.nextId++,
        name,
        input: items ?? input,
        params,
        ...(items ? { count: items.length } : {}),
        ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
        resolve: resolve as (v: unknown) => void,
        reject,
        settled: false,
      }
      if (opts.signal) {
        const signal = opts.signal
        task.onAbort = () => this.abort(task, signal.reason ?? new AbortError('cancelled'))
        signal.addEventListener('abort', task.onAbort, { once: true })
      }
      this.queue.push(task)
      this.dispatch()
    })
  }

  /** Sandboxes alive, tasks running and waiting, for status and tests. */
  stats(): { sandboxes: number; running: number; queued: number } {
    let running = 0
    for (const s of this.slots) if (s.task) running++
    return { sandboxes: this.slots.size, running, queued: this.queue.length }
  }

  /** Ends every sandbox; every task not finished rejects with `StoppedError`. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    const err = new StoppedError('the sandbox pool stopped')
    for (const t of this.queue.splice(0)) this.settle(t, err)
    for (const s of [...this.slots]) this.end(s, err)
  }

  /** Gives waiting tasks to idle ready sandboxes, starting sandboxes up to `maxWorkers`. */
  private dispatch(): void {
    if (this.stopped) return
    for (const s of this.slots) {
      if (this.queue.length === 0) return
      if (s.ready && !s.task) this.send(s, this.queue.shift() as Task)
    }
    let starting = 0
    for (const s of this.slots) if (!s.ready) starting++
    while (this.slots.size < this.maxWorkers && starting < this.queue.length) {
      this.spawn()
      starting++
    }
  }

  private spawn(): void {
    const slot = {} as Slot
    slot.ready = false
    slot.frame = new SandboxFrame({
      onReply: (r) => {
        if (r.t === 'ready') {
          if (slot.ready) return
          slot.ready = true
          clearTimeout(slot.timer)
          slot.timer = undefined
          this.dispatch()
          return
        }
        if (r.t !== 'done') return
        const t = slot.task
        // a cancelled task's sandbox is ended, so no answer comes late: any other is forged
        if (!t || r.id !== t.id)
          return this.end(slot, new WorkerCrashedError('the sandbox answered a task it was not given'))
        if (r.ok && t.count !== undefined && !(Array.isArray(r.out) && r.out.length === t.count))
          return this.end(
            slot,
            new WorkerCrashedError(`the sandbox did not answer ${t.count} results for ${t.count} items`),
          )
        clearTimeout(slot.timer)
        slot.task = undefined
        if (!r.ok) this.settle(t, new KernelError(r.message, r.name))
        else {
          try {
            this.settle(t, undefined, t.count === undefined ? taskOutput(r.out) : batchOutput(r.out, t.count))
          } catch (err) {
            this.settle(t, err as Error)
          }
        }
        this.dispatch()
      },
      onDeath: (why) => this.end(slot, new WorkerCrashedError(why)),
    })
    for (const [name, url] of this.kernels) slot.frame.post({ t: 'load', name, url })
    const ms = this.init.startTimeoutMs ?? 10_000
    slot.timer = setTimeout(
      () =>
        this.end(
          slot,
          new WorkerCrashedError(
            `the sandbox did not start in ${ms} ms (a Content-Security-Policy may block its srcdoc script or blob worker; see README)`,
          ),
        ),
      ms,
    )
    this.slots.add(slot)
  }

  private send(slot: Slot, t: Task): void {
    slot.task = t
    slot.frame.post({ t: 'run', id: t.id, name: t.name, input: t.input, params: t.params, map: t.count !== undefined })
    if (t.timeoutMs !== undefined)
      slot.timer = setTimeout(
        () => this.end(slot, new TaskTimeoutError(`the kernel ran past its ${t.timeoutMs} ms`)),
        t.timeoutMs,
      )
  }

  private abort(t: Task, reason: Error): void {
    const i = this.queue.indexOf(t)
    if (i >= 0) {
      this.queue.splice(i, 1)
      this.settle(t, reason)
      return
    }
    // running: its sandbox cannot be trusted to stop, so it ends
    for (const s of this.slots) if (s.task === t) this.end(s, reason)
  }

  /** Ends a sandbox; its task (or, for a sandbox that never started, the next waiting one) fails with `err`. */
  private end(slot: Slot, err: Error): void {
    if (!this.slots.delete(slot)) return
    clearTimeout(slot.timer)
    slot.frame.kill()
    const t = slot.task ?? (slot.ready || this.stopped ? undefined : this.queue.shift())
    slot.task = undefined
    if (t) this.settle(t, err)
    this.dispatch()
  }

  private settle(t: Task, err: Error | undefined, value?: unknown): void {
    if (t.settled) return
    t.settled = true
    if (t.onAbort) t.signal?.removeEventListener('abort', t.onAbort)
    if (err) t.reject(err)
    else t.resolve(value)
  }
}
