import { PayloadTooLargeError } from '../../../errors.js'
import { isOp, runOp } from '../../../ops.js'
import { TASK_HEADER_MAX, type TaskRequestHeader, type TaskResultHeader } from '../../../wire/task.js'
import type { ContentPin, RangeInput } from '../../range-fetch.js'
import { type KernelParams, outputToWire, paramsFromWire } from '../task-values.js'
import type { TaskLimits } from './limits.js'
import type { Slots } from './slots.js'

/** What the executor runs tasks on: the peer's own compute (a LocalCompute). */
export interface TaskRunner {
  hasKernel(name: string): boolean
  run(
    kernel: string,
    input: unknown,
    opts: {
      params?: unknown
      signal?: AbortSignal
      transfer?: ArrayBuffer[]
      prefer?: 'cpu' | 'gpu'
      /** The peer that asked (traveling code is fetched from it). */
      peer?: string
    },
  ): Promise<{ output: unknown; substrate: 'cpu' | 'webgpu'; validator?: ContentPin }>
  /** Workers in its pool (the most tasks it runs at once); URL tasks get `urlPoolShare` of them. Default 2. */
  readonly maxWorkers?: number
  /**
   * True when the runner forwards tasks elsewhere (a gateway's function): then
   * every task goes to it, small built-ins are never run on the executor's thread.
   */
  readonly forwards?: boolean
  /**
   * Refuses a request before any of its input is taken (a gateway: beyond its
   * function's payload limit, or cooling down); undefined admits it to the
   * executor's own budgets.
   */
  refuse?(request: Pick<TaskRequestHeader, 'kernel' | 'source'>): Error | undefined
}

/** What running a task needs besides the task. */
export interface RunEnv {
  runner: TaskRunner
  limits: TaskLimits
  /** Node-wide slots for URL-sourced tasks (their fetches may be slow). */
  urlSlots: Slots
  tamper?: (kernel: string, output: unknown) => unknown
}

/**
 * Runs one task whose input is here (or is a URL range) and returns its result
 * as it goes on the wire. Rejects with the signal's reason once it aborts (a
 * kernel that ignores its signal is left behind), or with what the kernel threw.
 */
export async function runTask(
  env: RunEnv,
  h: TaskRequestHeader,
  input: Uint8Array | undefined,
  signal: AbortSignal,
  peer?: string,
): Promise<{ header: TaskResultHeader; data: Uint8Array }> {
  const t0 = performance.now()
  const params = paramsFromWire(h.kernel, h.params)
  let result: { output: unknown; substrate: 'cpu' | 'webgpu'; validator?: ContentPin }
  if (
    input &&
    !env.runner.forwards &&
    isOp(h.kernel) &&
    h.prefer !== 'gpu' &&
    input.length <= env.limits.inlineMaxBytes
  ) {
    result = { output: runOp(h.kernel, input, params as KernelParams), substrate: 'cpu' }
  } else if (input) {
    result = await abortable(
      env.runner.run(h.kernel, input, {
        params,
        signal,
        prefer: h.prefer,
        transfer: [input.buffer as ArrayBuffer],
        peer,
      }),
      signal,
    )
  } else {
    if (h.source.kind !== 'url') throw new TypeError('an inline task reached runTask without its input')
    const { url, offset, length, pin } = h.source
    const range: RangeInput = { url, offset, length, ...(pin ? { pin } : {}) }
    const release = await env.urlSlots.acquire(signal)
    try {
      result = await abortable(env.runner.run(h.kernel, range, { params, signal, prefer: h.prefer, peer }), signal)
    } finally {
      release()
    }
  }
  if (signal.aborted) throw signal.reason
  const output = env.tamper ? env.tamper(h.kernel, result.output) : result.output
  const wire = outputToWire(
    output,
    { execMs: performance.now() - t0, substrate: result.substrate },
    TASK_HEADER_MAX - 256,
  )
  // the version of the content read travels back: the submitter pins the job's other ranges to it
  if (result.validator) wire.header.validator = result.validator
  if (wire.data.length > env.limits.maxOutputBytes)
    throw new PayloadTooLargeError(`output of ${wire.data.length} bytes exceeds ${env.limits.maxOutputBytes}`)
  return wire
}

/** `p`, or the signal's reason as soon as it aborts. */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    p.catch(() => {}) // what it settles to no longer matters, but must not go unhandled
    return Promise.reject(signal.reason)
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort)
        resolve(v)
      },
      (e) => {
        signal.removeEventListener('abort', onAbort)
        reject(e)
      },
    )
  })
}
