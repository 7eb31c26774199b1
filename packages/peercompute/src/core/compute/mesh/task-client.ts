import type { Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import {
  AbortError,
  MalformedResultError,
  PeerUnavailableError,
  ProtocolError,
  RemoteTaskError,
  TaskTimeoutError,
} from '../../errors.js'
import { CorkedWriter } from '../../wire/corked-writer.js'
import { encodeFrame, FrameDecoder } from '../../wire/frames.js'
import {
  decodeTaskMessage,
  encodeTaskMessage,
  TASK_FRAME_MAX,
  TASK_ID_MAX,
  TASK_PROTOCOL,
  TASK_WRITE_BYTES,
  type TaskMessage,
  type TaskRequestHeader,
  type TaskResultHeader,
  taskFrames,
} from '../../wire/task.js'
import type { ContentPin, RangeInput } from '../range-fetch.js'
import { MAX_KERNEL_RESULT_BYTES, resultBytesProblem } from './result-check.js'
import { type KernelParams, outputFromWire, paramsToWire } from './task-values.js'

/** How the client reaches peers (a NetworkManager). */
export interface StreamDialer {
  dialProtocol(peer: string, protocol: string, opts?: { signal?: AbortSignal }): Promise<Stream>
}

/** One task for a remote peer. */
export interface RemoteTask {
  kernel: string
  params?: KernelParams | Record<string, unknown>
  /** The input: bytes sent along, or a URL range the executor fetches itself. */
  input: Uint8Array | RangeInput
  /** How long to wait for the result, ms. */
  deadlineMs: number
  /** `gpu`: WebGPU for counteq/xor/add where the executor has it. */
  prefer?: 'cpu' | 'gpu'
  signal?: AbortSignal
}

/** A remote task's outcome. */
export interface RemoteResult {
  output: unknown
  execMs: number
  substrate: 'cpu' | 'webgpu'
  /** A URL source: the version of the content the executor read (its word). */
  validator?: ContentPin
}

interface Pending {
  resolve(r: RemoteResult): void
  reject(e: Error): void
  /** Why a bytes result may not declare this length (checked before allocating); undefined when it may. */
  refuse(declared: number): string | undefined
  header?: TaskResultHeader
  buf?: Uint8Array
  got: number
}

/** A stream with tasks in flight and no word from the executor for this long is taken for dead. */
export const TASK_SILENCE_MS = 5000

/** Deadline slack on the submitter's side, for the network. */
const DEADLINE_SLACK_MS = 2000

/** Options of a TaskClient. */
export interface TaskClientInit {
  /** Largest bytes result of a registered kernel taken, bytes (default MAX_KERNEL_RESULT_BYTES). */
  maxKernelResultBytes?: number
}

/**
 * The submitting side of the task protocol: one multiplexed stream per peer,
 * many tasks in flight on it, each with an id, a deadline and cancellation.
 * What a peer sends back is checked before anything is allocated for it.
 */
export class TaskClient {
  private readonly dialer: StreamDialer
  private readonly channels = new Map<string, Promise<Channel>>()
  private readonly maxKernelResultBytes: number
  private stopped = false

  constructor(dialer: StreamDialer, init: TaskClientInit = {}) {
    this.dialer = dialer
    this.maxKernelResultBytes = init.maxKernelResultBytes ?? MAX_KERNEL_RESULT_BYTES
  }

  /**
   * Runs `task` on `peer`. Rejects with `RemoteTaskError` (the peer reported an
   * error: its name is data, never rebuilt into a library class),
   * `MalformedResultError` (a result length the task does not allow),
   * `ProtocolError`, `PeerUnavailableError`, `TaskTimeoutError` or `AbortError`.
   */
  async run(peer: string, task: RemoteTask): Promise<RemoteResult> {
    if (this.stopped) throw new AbortError('the task client is stopped')
    if (task.signal?.aborted) throw new AbortError('aborted')
    const ch = await this.channel(peer, task.signal)
    return ch.run(task)
  }

  /** Closes every stream; what is in flight fails with `AbortError`. */
  stop(): void {
    this.stopped = true
    for (const p of this.channels.values())
      p.then(
        (c) => c.close(new AbortError('the task client stopped')),
        () => {},
      )
    this.channels.clear()
  }

  private channel(peer: string, signal?: AbortSignal): Promise<Channel> {
    let p = this.channels.get(peer)
    if (!p) {
      p = this.dialer.dialProtocol(peer, TASK_PROTOCOL, { signal }).then(
        (stream) => new Channel(stream, peer, this.maxKernelResultBytes, () => this.channels.delete(peer)),
        (err) => {
          this.channels.delete(peer)
          throw signal?.aborted
            ? new AbortError('aborted')
            : new PeerUnavailableError(`cannot open a task stream to ${peer}: ${(err as Error).message}`, {
                cause: err,
              })
        },
      )
      this.channels.set(peer, p)
    }
    return p
  }
}

class Channel {
  private readonly stream: Stream
  private readonly peer: string
  private readonly maxKernelResultBytes: number
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private closed = false
  private readonly onGone: () => void
  private readonly writer: CorkedWriter
  private readonly watchdog: ReturnType<typeof setInterval>
  /** When the executor was last heard from (or the channel last went from idle to busy). */
  private heard = performance.now()

  constructor(stream: Stream, peer: string, maxKernelResultBytes: number, onGone: () => void) {
    this.stream = stream
    this.peer = peer
    this.maxKernelResultBytes = maxKernelResultBytes
    this.writer = new CorkedWriter(stream, TASK_WRITE_BYTES)
    this.onGone = onGone
    // frames may view the stream's chunks: every message is read, and its data copied, before push returns
    const decoder = new FrameDecoder(TASK_FRAME_MAX, { copy: false })
    stream.addEventListener('message', (evt) => {
      try {
        for (const f of decoder.push(evt.data)) this.onMessage(decodeTaskMessage(f))
      } catch (err) {
        this.close(new ProtocolError(`the executor broke the protocol: ${(err as Error).message}`))
        stream.abort(err as Error)
      }
    })
    stream.addEventListener('close', () => this.close(new PeerUnavailableError('the task stream closed')))
    // a peer that vanished without closing (a WebRTC peer that crashed) goes silent: fail its tasks
    this.watchdog = setInterval(() => {
      if (this.pending.size > 0 && performance.now() - this.heard > TASK_SILENCE_MS) {
        this.close(new PeerUnavailableError(`no word from the executor for ${TASK_SILENCE_MS} ms`))
        stream.abort(new Error('executor silent'))
      }
    }, 1000)
  }

  close(err: Error): void {
    if (this.closed) return
    this.closed = true
    clearInterval(this.watchdog)
    this.onGone()
    for (const p of this.pending.values()) p.reject(err)
    this.pending.clear()
    if (this.stream.status === 'open') this.stream.close().catch(() => this.stream.abort(err))
  }

  async run(task: RemoteTask): Promise<RemoteResult> {
    if (this.closed) throw new PeerUnavailableError('the task stream closed')
    const id = this.nextId
    this.nextId = this.nextId >= TASK_ID_MAX ? 1 : this.nextId + 1
    const input = task.input
    const header: TaskRequestHeader = {
      kernel: task.kernel,
      source:
        input instanceof Uint8Array
          ? { kind: 'inline', length: input.length }
          : {
              kind: 'url',
              url: input.url,
              offset: input.offset,
              length: input.length,
              ...(input.pin ? { pin: input.pin } : {}),
            },
      deadlineMs: Math.max(1, Math.round(task.deadlineMs)),
    }
    const params = paramsToWire(task.params)
    if (params) header.params = params
    if (task.prefer) header.prefer = task.prefer
    if (this.pending.size === 0) this.heard = performance.now()
    const result = new Promise<RemoteResult>((resolve, reject) => {
      const refuse = (declared: number) =>
        resultBytesProblem(task.kernel, input.length, declared, this.maxKernelResultBytes)
      this.pending.set(id, { resolve, reject, refuse, got: 0 })
    })
    result.catch(() => {}) // it may fail while the input is still being sent; awaited below
    const signal = task.signal
    const timer = setTimeout(
      () => this.settle(id, new TaskTimeoutError(`no result within ${task.deadlineMs} ms`), true),
      task.deadlineMs + DEADLINE_SLACK_MS,
    )
    const onAbort = () => this.settle(id, new AbortError('cancelled'), true)
    signal?.addEventListener('abort', onAbort, { once: true })
    try {
      const bytes = input instanceof Uint8Array ? input : new Uint8Array(0)
      // the request and its data in as few writes as the sizes allow: one muxer message for a batch of ≤ 64 KiB
      for (const frames of taskFrames({ type: 'request', id, header }, bytes)) {
        if (!this.pending.has(id)) break
        await this.writeFrames(frames, signal)
      }
      return await result
    } catch (err) {
      this.settle(id, err as Error, false)
      throw err instanceof Error && err.name === 'AbortError' && signal?.aborted ? new AbortError('cancelled') : err
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
  }

  private async send(m: TaskMessage, signal?: AbortSignal): Promise<void> {
    await this.writeFrames(encodeFrame(encodeTaskMessage(m)), signal)
  }

  private async writeFrames(frames: Uint8Array | Uint8ArrayList, signal?: AbortSignal): Promise<void> {
    if (this.closed) throw new PeerUnavailableError('the task stream closed')
    await this.writer.write(frames, signal)
  }

  /** Fails task `id`; tells the executor to stop when `cancel`. */
  private settle(id: number, err: Error, cancel: boolean): void {
    const p = this.pending.get(id)
    if (!p) return
    this.pending.delete(id)
    p.reject(err)
    if (cancel && !this.closed) this.send({ type: 'cancel', id }).catch(() => {})
  }

  private onMessage(m: TaskMessage): void {
    this.heard = performance.now()
    if (m.type === 'alive') return
    const p = this.pending.get(m.id)
    if (m.type === 'error') {
      // the peer's word, kept as data: a remote cannot forge this library's error semantics
      const err = new RemoteTaskError(this.peer, m.name, m.message)
      if (m.id === 0) {
        this.close(err)
        return
      } // the executor gave up on the stream
      if (p) {
        this.pending.delete(m.id)
        p.reject(err)
      }
      return
    }
    if (!p) return // a task we gave up on
    if (m.type === 'result') {
      if (p.header) {
        this.settle(m.id, new ProtocolError('a second result for one task'), true)
        return
      }
      if (m.header.type === 'bytes') {
        const why = p.refuse(m.header.length)
        if (why) {
          this.settle(m.id, new MalformedResultError(`${this.peer}: ${why}`), true)
          return
        }
      }
      p.header = m.header
      if (m.header.type === 'bytes') {
        p.buf = new Uint8Array(m.header.length)
        p.buf.set(m.data)
        p.got = m.data.length
      }
    } else if (m.type === 'data') {
      if (!p.buf || p.got + m.data.length > p.buf.length) {
        this.settle(m.id, new ProtocolError('result data beyond the declared length'), true)
        return
      }
      p.buf.set(m.data, p.got)
      p.got += m.data.length
    } else {
      throw new ProtocolError(`an executor does not send ${m.type} messages`)
    }
    if (p.header && (p.header.type !== 'bytes' || p.got === p.buf?.length)) {
      this.pending.delete(m.id)
      p.resolve({
        output: outputFromWire(p.header, p.buf),
        execMs: p.header.execMs,
        substrate: p.header.substrate,
        ...(p.header.validator ? { validator: p.header.validator } : {}),
      })
    }
  }
}
