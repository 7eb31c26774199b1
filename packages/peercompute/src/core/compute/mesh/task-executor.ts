import type { Stream, StreamHandler } from '@libp2p/interface'
import {
  AbortError,
  KernelNotFoundError,
  PayloadTooLargeError,
  ProtocolError,
  RateLimitedError,
  TaskTimeoutError,
} from '../../errors.js'
import { isOp, runOp } from '../../ops.js'
import { CorkedWriter } from '../../wire/corked-writer.js'
import { encodeFrame, FrameDecoder } from '../../wire/frames.js'
import {
  dataRoom,
  decodeTaskMessage,
  encodeTaskMessage,
  TASK_FRAME_MAX,
  TASK_HEADER_MAX,
  TASK_PROTOCOL,
  type TaskMessage,
  type TaskRequestHeader,
} from '../../wire/task.js'
import type { RangeInput } from '../range-fetch.js'
import { type KernelParams, outputToWire, paramsFromWire } from './task-values.js'

/** What the executor runs tasks on: the peer's own compute (a LocalCompute). */
export interface TaskRunner {
  hasKernel(name: string): boolean
  run(
    kernel: string,
    input: unknown,
    opts: { params?: unknown; signal?: AbortSignal; transfer?: ArrayBuffer[]; prefer?: 'cpu' | 'gpu' },
  ): Promise<{ output: unknown; substrate: 'cpu' | 'webgpu' }>
}

/** Where the executor serves its protocol (a NetworkManager). */
export interface ProtocolHost {
  handle(protocol: string, handler: StreamHandler, opts?: { maxInboundStreams?: number }): Promise<void>
}

/** The executor's limits; every one bounds what a peer can make this peer do. */
export interface TaskLimits {
  /** Largest input of one task, bytes (default 64 MiB). */
  maxInputBytes: number
  /** Largest output of one task, bytes (default 64 MiB). */
  maxOutputBytes: number
  /** Tasks one peer may have in flight here (default 64). */
  maxInflightPerPeer: number
  /** Requests one peer may send per second, sustained (default 20,000; bursts of as many). */
  requestsPerSecondPerPeer: number
  /** Longest deadline honoured, ms; longer ones are cut to it (default 300,000). */
  maxDeadlineMs: number
  /** Inline input bytes one peer may have declared and not yet finished with (default 256 MiB). */
  maxBufferedBytesPerPeer: number
  /** Built-ins over inline inputs up to this size run on the executor's thread, skipping the worker hop (default 64 KiB). */
  inlineMaxBytes: number
}

/** How often an executor with tasks on a stream says it is alive (the submitter gives up after TASK_SILENCE_MS). */
export const ALIVE_MS = 1000

/** The executor's defaults. */
export const TASK_LIMITS: TaskLimits = {
  maxInputBytes: 64 * 1024 * 1024,
  maxOutputBytes: 64 * 1024 * 1024,
  maxInflightPerPeer: 64,
  requestsPerSecondPerPeer: 20_000,
  maxDeadlineMs: 300_000,
  maxBufferedBytesPerPeer: 256 * 1024 * 1024,
  inlineMaxBytes: 64 * 1024,
}

/** Options of a TaskExecutor. */
export interface TaskExecutorInit {
  host: ProtocolHost
  runner: TaskRunner
  limits?: Partial<TaskLimits>
  /**
   * Fault injection, for tests only: rewrites each output before it is sent
   * (a lying peer). Never set in production.
   */
  tamper?: (kernel: string, output: unknown) => unknown
  log?: (line: string) => void
}

/** What the executor has done, for status reports and tests. */
export interface ExecutorStats {
  running: number
  completed: number
  failed: number
  cancelled: number
  refused: number
}

interface Incoming {
  header: TaskRequestHeader
  buf?: Uint8Array
  got: number
  ac: AbortController
  started: boolean
  /** Gives back the input bytes this task holds against its peer's budget (once). */
  release: () => void
}

/**
 * Serves the task protocol: runs the kernels this peer has (and only those)
 * for other peers, within its limits. A malformed or oversized frame gets a
 * typed error back and costs only that stream; every other peer is served on.
 */
export class TaskExecutor {
  private readonly init: TaskExecutorInit
  private readonly limits: TaskLimits
  private readonly streams = new Set<Stream>()
  private readonly inflightByPeer = new Map<string, number>()
  private readonly buckets = new Map<string, { tokens: number; at: number }>()
  private readonly bufferedByPeer = new Map<string, number>()
  private readonly counters: ExecutorStats = { running: 0, completed: 0, failed: 0, cancelled: 0, refused: 0 }
  private readonly controllers = new Set<AbortController>()
  private stopped = false

  constructor(init: TaskExecutorInit) {
    this.init = init
    this.limits = { ...TASK_LIMITS, ...init.limits }
  }

  /** Starts serving the task protocol. */
  async start(): Promise<void> {
    await this.init.host.handle(TASK_PROTOCOL, (stream, conn) => this.serve(stream, conn.remotePeer.toString()), {
      maxInboundStreams: 8,
    })
  }

  /** Counters right now. */
  stats(): ExecutorStats {
    return { ...this.counters }
  }

  /** Aborts every running task and closes every task stream. */
  stop(): void {
    this.stopped = true
    for (const ac of this.controllers) ac.abort(new AbortError('the executor stopped'))
    for (const s of this.streams) s.abort(new Error('the executor stopped'))
    this.streams.clear()
  }

  private serve(stream: Stream, peer: string): void {
    if (this.stopped) {
      stream.abort(new Error('the executor stopped'))
      return
    }
    this.streams.add(stream)
    const decoder = new FrameDecoder(TASK_FRAME_MAX)
    const tasks = new Map<number, Incoming>()
    const writer = new CorkedWriter(stream)
    const send = async (m: TaskMessage) => {
      if (stream.status !== 'open' || stream.writeStatus !== 'writable') return
      await writer.write(encodeFrame(encodeTaskMessage(m))).catch(() => {})
    }
    const fail = (id: number, err: Error) => {
      const t = tasks.get(id)
      if (t) {
        t.ac.abort(err)
        tasks.delete(id)
        if (!t.started) this.counters.refused++
      } else this.counters.refused++
      void send({ type: 'error', id, name: err.name, message: err.message })
    }
    // while tasks are here, say so every second: a submitter can then tell a dead peer from a slow task
    const alive = setInterval(() => {
      if (tasks.size > 0) void send({ type: 'alive', id: 0 })
    }, ALIVE_MS)
    stream.addEventListener('close', () => {
      clearInterval(alive)
      this.streams.delete(stream)
      for (const t of tasks.values()) t.ac.abort(new AbortError('the submitter went away'))
      tasks.clear()
    })
    stream.addEventListener('message', (evt) => {
      let frames: Uint8Array[]
      try {
        frames = decoder.push(evt.data.subarray())
      } catch (err) {
        // the framing is broken: nothing more on this stream can be trusted
        this.counters.refused++
        // the error goes out first; then the stream is reset (a graceful close would wait on the peer)
        void send({ type: 'error', id: 0, name: 'ProtocolError', message: (err as Error).message }).finally(() =>
          setTimeout(() => stream.abort(err as Error), 200),
        )
        return
      }
      for (const frame of frames) {
        let m: TaskMessage
        try {
          m = decodeTaskMessage(frame)
        } catch (err) {
          fail((err as { taskId?: number }).taskId ?? 0, err as Error)
          continue
        }
        this.onMessage(peer, m, tasks, fail, send)
      }
    })
  }

  private onMessage(
    peer: string,
    m: TaskMessage,
    tasks: Map<number, Incoming>,
    fail: (id: number, err: Error) => void,
    send: (m: TaskMessage) => Promise<void>,
  ): void {
    switch (m.type) {
      case 'request': {
        if (tasks.has(m.id)) {
          fail(m.id, new ProtocolError(`task id ${m.id} is already in use`))
          return
        }
        const refusal = this.admit(peer, m.header)
        if (refusal) {
          fail(m.id, refusal)
          return
        }
        const declared = m.header.source.kind === 'inline' ? m.header.source.length : 0
        const held = this.bufferedByPeer.get(peer) ?? 0
        if (held + declared > this.limits.maxBufferedBytesPerPeer) {
          const limit = this.limits.maxBufferedBytesPerPeer
          fail(m.id, new RateLimitedError(`${held + declared} input bytes in flight exceed ${limit}`))
          return
        }
        this.bufferedByPeer.set(peer, held + declared)
        let released = false
        const release = () => {
          if (released) return
          released = true
          const left = (this.bufferedByPeer.get(peer) ?? declared) - declared
          if (left > 0) this.bufferedByPeer.set(peer, left)
          else this.bufferedByPeer.delete(peer)
        }
        const t: Incoming = { header: m.header, got: 0, ac: new AbortController(), started: false, release }
        // every way a task ends early aborts it: that gives its bytes back
        t.ac.signal.addEventListener('abort', release, { once: true })
        tasks.set(m.id, t)
        if (m.header.source.kind === 'inline') {
          t.buf = new Uint8Array(m.header.source.length)
          if (!this.take(t, m.data)) {
            fail(m.id, new PayloadTooLargeError('more data than the request declared'))
            return
          }
        }
        if (m.header.source.kind === 'url' || t.got === t.buf?.length) void this.execute(peer, m.id, t, tasks, send)
        return
      }
      case 'data': {
        const t = tasks.get(m.id)
        if (!t || t.started || !t.buf) {
          fail(m.id, new ProtocolError(`data for task ${m.id}, which takes none`))
          return
        }
        if (!this.take(t, m.data)) {
          fail(m.id, new PayloadTooLargeError('more data than the request declared'))
          return
        }
        if (t.got === t.buf.length) void this.execute(peer, m.id, t, tasks, send)
        return
      }
      case 'cancel': {
        const t = tasks.get(m.id)
        if (!t) return
        tasks.delete(m.id)
        this.counters.cancelled++
        t.ac.abort(new AbortError('cancelled by the submitter'))
        return
      }
      default: {
        fail(m.id, new ProtocolError(`a submitter does not send ${m.type} messages`))
        return
      }
    }
  }

  /** Why a request is refused, or undefined to run it. */
  private admit(peer: string, h: TaskRequestHeader): Error | undefined {
    if (this.stopped) return new AbortError('the executor stopped')
    if (!this.init.runner.hasKernel(h.kernel)) return new KernelNotFoundError(`no kernel named "${h.kernel}" here`)
    if (h.source.length > this.limits.maxInputBytes)
      return new PayloadTooLargeError(`input of ${h.source.length} bytes exceeds ${this.limits.maxInputBytes}`)
    if ((this.inflightByPeer.get(peer) ?? 0) >= this.limits.maxInflightPerPeer)
      return new RateLimitedError(`more than ${this.limits.maxInflightPerPeer} tasks in flight`)
    const rate = this.limits.requestsPerSecondPerPeer
    const now = Date.now()
    const b = this.buckets.get(peer) ?? { tokens: rate, at: now }
    b.tokens = Math.min(rate, b.tokens + ((now - b.at) / 1000) * rate)
    b.at = now
    this.buckets.set(peer, b)
    if (b.tokens < 1) return new RateLimitedError(`more than ${rate} requests per second`)
    b.tokens -= 1
    return undefined
  }

  private take(t: Incoming, data: Uint8Array): boolean {
    if (!t.buf || t.got + data.length > t.buf.length) return false
    t.buf.set(data, t.got)
    t.got += data.length
    return true
  }

  private async execute(
    peer: string,
    id: number,
    t: Incoming,
    tasks: Map<number, Incoming>,
    send: (m: TaskMessage) => Promise<void>,
  ): Promise<void> {
    t.started = true
    const h = t.header
    const deadline = Math.min(h.deadlineMs, this.limits.maxDeadlineMs)
    const timer = setTimeout(
      () => t.ac.abort(new TaskTimeoutError(`deadline of ${deadline} ms passed on the executor`)),
      deadline,
    )
    this.inflightByPeer.set(peer, (this.inflightByPeer.get(peer) ?? 0) + 1)
    this.controllers.add(t.ac)
    this.counters.running++
    const t0 = performance.now()
    try {
      const params = paramsFromWire(h.kernel, h.params)
      let result: { output: unknown; substrate: 'cpu' | 'webgpu' }
      if (
        h.source.kind === 'inline' &&
        t.buf &&
        isOp(h.kernel) &&
        h.prefer !== 'gpu' &&
        t.buf.length <= this.limits.inlineMaxBytes
      ) {
        result = { output: runOp(h.kernel, t.buf, params as KernelParams), substrate: 'cpu' }
      } else {
        const input: Uint8Array | RangeInput =
          h.source.kind === 'inline'
            ? (t.buf as Uint8Array)
            : { url: h.source.url, offset: h.source.offset, length: h.source.length }
        result = await abortable(
          this.init.runner.run(h.kernel, input, {
            params,
            signal: t.ac.signal,
            prefer: h.prefer,
            transfer: input instanceof Uint8Array ? [input.buffer as ArrayBuffer] : [],
          }),
          t.ac.signal,
        )
      }
      t.buf = undefined
      if (t.ac.signal.aborted) throw t.ac.signal.reason
      let output = result.output
      if (this.init.tamper) output = this.init.tamper(h.kernel, output)
      const wire = outputToWire(
        output,
        { execMs: performance.now() - t0, substrate: result.substrate },
        TASK_HEADER_MAX - 256,
      )
      if (wire.data.length > this.limits.maxOutputBytes)
        throw new PayloadTooLargeError(`output of ${wire.data.length} bytes exceeds ${this.limits.maxOutputBytes}`)
      if (tasks.get(id) !== t) return // cancelled meanwhile
      tasks.delete(id)
      const first = Math.min(wire.data.length, dataRoom(TASK_HEADER_MAX))
      await send({ type: 'result', id, header: wire.header, data: wire.data.subarray(0, first) })
      for (let off = first; off < wire.data.length; off += dataRoom()) {
        await send({ type: 'data', id, data: wire.data.subarray(off, off + dataRoom()) })
      }
      this.counters.completed++
    } catch (err) {
      this.counters.failed++
      this.init.log?.(`task ${id} from ${peer} (${h.kernel}) failed: ${(err as Error)?.stack ?? String(err)}`)
      if (tasks.get(id) === t) {
        tasks.delete(id)
        const e = err as Error
        await send({ type: 'error', id, name: e?.name ?? 'Error', message: e?.message ?? String(err) })
      }
    } finally {
      clearTimeout(timer)
      t.release()
      this.controllers.delete(t.ac)
      this.counters.running--
      const n = (this.inflightByPeer.get(peer) ?? 1) - 1
      if (n > 0) this.inflightByPeer.set(peer, n)
      else this.inflightByPeer.delete(peer)
    }
  }
}

/** `p`, or the signal's reason as soon as it aborts (a kernel that ignores its signal is left behind). */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
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
