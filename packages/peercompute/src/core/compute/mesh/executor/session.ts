import type { Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import {
  AbortError,
  PayloadTooLargeError,
  ProtocolError,
  RateLimitedError,
  TaskTimeoutError,
  TrickledFrameError,
} from '../../../errors.js'
import { CorkedWriter } from '../../../wire/corked-writer.js'
import { encodeFrame, FrameDecoder } from '../../../wire/frames.js'
import {
  decodeTaskMessage,
  encodeTaskMessage,
  TASK_FRAME_MAX,
  TASK_WRITE_BYTES,
  type TaskMessage,
  type TaskRequestHeader,
  taskFrames,
} from '../../../wire/task.js'
import { InputBuffer } from './input-buffer.js'
import type { Admission, AdmissionLedger } from './ledger.js'
import { ALIVE_MS } from './limits.js'
import { errorForPeer } from './peer-errors.js'
import { type RunEnv, runTask } from './run-task.js'

/** Frames a stream may have waiting for the peer to read (the stream's buffer full) before the peer counts as not reading, and is cut off. */
const MAX_PENDING_FRAMES = 256
/** After a framing error, how long the error frame gets to leave before the stream is reset, ms. */
const RESET_GRACE_MS = 200

/** The executor's counters, shared by its sessions. */
export interface ExecutorCounters {
  running: number
  completed: number
  failed: number
  cancelled: number
  refused: number
  /** Streams reset at once (node-wide or per-peer stream limits, cut-off peers) or for abuse. */
  streamsRefused: number
  /** Times a peer was cut off (it kept going after its refusals ran out, or did not read its replies). */
  cutOffs: number
}

/** What a session needs from its executor. */
export interface SessionEnv extends RunEnv {
  ledger: AdmissionLedger
  counters: ExecutorCounters
  log?: (line: string) => void
  /** Told when this session cut its peer off, with why: the executor resets the peer's other streams and scores it. */
  onAbuse?: (peer: string, reason: string) => void
  /** False once the executor stopped: requests are refused. */
  serving(): boolean
}

interface Task {
  header: TaskRequestHeader
  admission: Admission
  ac: AbortController
  timer: ReturnType<typeof setTimeout>
  input?: InputBuffer
  lastInputAt: number
  started: boolean
  /** The result header went out: no error may follow it. */
  answered: boolean
}

/**
 * One task stream from one peer: decodes its frames, admits its requests
 * against the ledger from the request frame on (deadline, slot, bytes), takes
 * inputs as they arrive, runs complete tasks and sends results. What it sends
 * back is bounded: a peer that keeps going after its refusals ran out, or
 * does not read, gets its stream reset and is cut off.
 */
export class TaskSession {
  private readonly env: SessionEnv
  private readonly stream: Stream
  /** The peer at the other end. */
  readonly peer: string
  private readonly tasks = new Map<number, Task>()
  // frames may view the stream's chunks: every message is read, and its data copied, before push returns
  private readonly decoder = new FrameDecoder(TASK_FRAME_MAX, { copy: false })
  private readonly writer: CorkedWriter
  private readonly alive: ReturnType<typeof setInterval>
  private resetTimer?: ReturnType<typeof setTimeout>
  /** When the stream last had no task (it opened, or its last task ended); undefined while it has tasks. */
  private idleSince: number | undefined = Date.now()
  private closed = false
  private broken = false

  constructor(env: SessionEnv, stream: Stream, peer: string, onClose: () => void) {
    this.env = env
    this.stream = stream
    this.peer = peer
    this.writer = new CorkedWriter(stream, TASK_WRITE_BYTES)
    // while tasks are here, say so every second: a submitter can then tell a dead peer from a slow task
    this.alive = setInterval(() => this.tick(), ALIVE_MS)
    stream.addEventListener('close', () => {
      this.end(new AbortError('the submitter went away'))
      onClose()
    })
    stream.addEventListener('message', (evt) => {
      try {
        this.onData(evt.data)
      } catch (err) {
        // a bug of ours, not the peer's bytes (those are refused above): log it, drop the stream, never crash
        this.env.log?.(`task stream from ${peer} failed: ${(err as Error)?.stack ?? String(err)}`)
        this.stop(new ProtocolError('the executor failed on this stream'))
      }
    })
  }

  /** Aborts every task and resets the stream. */
  stop(reason: Error): void {
    this.end(reason)
    clearTimeout(this.resetTimer)
    this.stream.abort(reason)
  }

  private onData(chunk: Uint8Array | Iterable<Uint8Array>): void {
    if (this.closed || this.broken) return
    let frames: Uint8Array[]
    try {
      frames = this.decoder.push(chunk)
    } catch (err) {
      // the framing is broken: nothing more on this stream can be trusted; the error goes out, then the stream is reset
      this.broken = true
      this.env.counters.refused++
      if (err instanceof TrickledFrameError) {
        this.stop(err) // at once, with no word: each more message costs; the host closes the connection
        return
      }
      this.sendControl({ type: 'error', id: 0, name: 'ProtocolError', message: (err as Error).message })
      this.resetSoon(err as Error)
      return
    }
    for (const frame of frames) {
      if (this.closed) return
      let m: TaskMessage
      try {
        m = decodeTaskMessage(frame)
      } catch (err) {
        this.refuse((err as { taskId?: number }).taskId ?? 0, err as Error)
        continue
      }
      this.onMessage(m)
    }
  }

  private onMessage(m: TaskMessage): void {
    switch (m.type) {
      case 'request':
        this.onRequest(m.id, m.header, m.data)
        return
      case 'data': {
        const t = this.tasks.get(m.id)
        if (!t || t.started || !t.input) {
          this.refuse(m.id, new ProtocolError(`data for task ${m.id}, which takes none`))
          return
        }
        this.take(m.id, t, m.data)
        return
      }
      case 'cancel': {
        const t = this.tasks.get(m.id)
        if (!t) return
        this.tasks.delete(m.id)
        this.env.counters.cancelled++
        this.finish(t, new AbortError('cancelled by the submitter'))
        return
      }
      default:
        this.refuse(m.id, new ProtocolError(`a submitter does not send ${m.type} messages`))
    }
  }

  private onRequest(id: number, header: TaskRequestHeader, data: Uint8Array): void {
    const prior = this.tasks.get(id)
    if (prior) {
      // a live id reused: the old task ends too (its input can no longer be told apart)
      this.tasks.delete(id)
      this.finish(prior, new ProtocolError(`task id ${id} is already in use`))
      this.refuse(id, new ProtocolError(`task id ${id} is already in use`))
      return
    }
    if (!this.env.serving()) {
      this.refuse(id, new AbortError('the executor stopped'))
      return
    }
    const early = this.env.runner.refuse?.(header)
    if (early) {
      this.refuse(id, early)
      return
    }
    const admission = this.env.ledger.admit(this.peer, header, (k) => this.env.runner.hasKernel(k))
    if (admission instanceof Error) {
      this.refuse(id, admission)
      return
    }
    // the deadline runs from the request: a task whose input never comes ends at it like any other
    const deadline = Math.min(header.deadlineMs, this.env.limits.maxDeadlineMs)
    const ac = new AbortController()
    const t: Task = {
      header,
      admission,
      ac,
      timer: setTimeout(() => this.expire(id, t, deadline), deadline),
      lastInputAt: Date.now(),
      started: false,
      answered: false,
    }
    this.tasks.set(id, t)
    this.idleSince = undefined
    if (header.source.kind === 'inline') {
      t.input = new InputBuffer(header.source.length, admission)
      this.take(id, t, data)
    } else if (data.length > 0) {
      this.fail(id, t, new ProtocolError('a URL task carries no data'))
    } else void this.execute(id, t)
  }

  /** Adds input to task `id`; runs it once complete. */
  private take(id: number, t: Task, data: Uint8Array): void {
    const input = t.input as InputBuffer
    const got = input.push(data)
    if (got !== 'ok') {
      const err =
        got === 'overflow'
          ? new PayloadTooLargeError('more data than the request declared')
          : new RateLimitedError('this executor holds too many input bytes for now; try later')
      this.fail(id, t, err)
      return
    }
    t.lastInputAt = Date.now()
    if (input.complete) void this.execute(id, t)
  }

  private async execute(id: number, t: Task): Promise<void> {
    t.started = true
    this.env.counters.running++
    const { signal } = t.ac
    try {
      const input = t.input?.bytes()
      t.input = undefined
      const wire = await runTask(this.env, t.header, input, signal, this.peer)
      // the output replaces the input in what this task holds, until it is sent
      t.admission.set(wire.data.length)
      if (this.tasks.get(id) !== t) return // cancelled meanwhile
      t.answered = true
      for (const frames of taskFrames({ type: 'result', id, header: wire.header }, wire.data))
        await this.writeFrames(frames, signal)
      if (this.tasks.get(id) === t) this.tasks.delete(id)
      this.env.counters.completed++
    } catch (err) {
      this.env.counters.failed++
      this.env.log?.(
        `task ${id} from ${this.peer} (${t.header.kernel}) failed: ${(err as Error)?.stack ?? String(err)}`,
      )
      if (this.tasks.get(id) === t) {
        this.tasks.delete(id)
        // once a result went out, nothing more may follow for it: the submitter's own deadline ends it
        if (!t.answered) this.sendControl({ type: 'error', id, ...errorForPeer(err) })
      }
    } finally {
      this.env.counters.running--
      this.finish(t)
    }
  }

  /** The task's deadline passed: one still receiving or waiting fails here; a running one is aborted. */
  private expire(id: number, t: Task, deadline: number): void {
    const err = new TaskTimeoutError(`deadline of ${deadline} ms passed on the executor`)
    if (t.started) t.ac.abort(err)
    else this.fail(id, t, err)
  }

  /** Ends task `id` before it ran, with an error the peer hears (the refusal allowance applies). */
  private fail(id: number, t: Task, err: Error): void {
    if (this.tasks.get(id) === t) this.tasks.delete(id)
    this.finish(t, err)
    this.refuse(id, err)
  }

  /** Releases everything task `t` holds; aborts it first with `reason` when given. */
  private finish(t: Task, reason?: Error): void {
    if (reason && !t.ac.signal.aborted) t.ac.abort(reason)
    clearTimeout(t.timer)
    t.input = undefined
    t.admission.release()
  }

  /**
   * Tells the peer its request or frame was refused (admission refusals keep
   * their messages: they describe the peer's own request). Past its refusal
   * allowance the peer hears nothing more: its stream is reset and it is cut off.
   */
  private refuse(id: number, err: Error): void {
    this.env.counters.refused++
    if (this.env.ledger.takeRefusal(this.peer)) {
      this.sendControl({ type: 'error', id, name: err.name, message: err.message })
      return
    }
    this.abuse(`kept sending after ${this.env.limits.refusalBurstPerPeer} refusals`)
  }

  /** Cuts the peer off: its streams are reset now and on sight for a while. */
  private abuse(reason: string): void {
    if (this.closed) return
    this.env.counters.cutOffs++
    this.env.ledger.cutOff(this.peer)
    this.env.log?.(`task peer ${this.peer} cut off: ${reason}`)
    this.env.onAbuse?.(this.peer, reason)
    this.resetSoon(new RateLimitedError(`cut off: ${reason}`))
  }

  /**
   * Ends every task and reads nothing more; what was already answered gets
   * `RESET_GRACE_MS` to leave (a graceful close would wait on the peer), then
   * the stream is reset.
   */
  private resetSoon(reason: Error): void {
    this.end(reason)
    this.writer.flush()
    this.resetTimer = setTimeout(() => this.stream.abort(reason), RESET_GRACE_MS)
  }

  /** Sends an error or alive frame without waiting; a peer that lets them pile up is not reading, and is cut off. */
  private sendControl(m: TaskMessage): void {
    if (this.writer.waiting >= MAX_PENDING_FRAMES) {
      this.abuse(`did not read ${MAX_PENDING_FRAMES} frames sent to it`)
      return
    }
    this.sendFrame(m).catch(() => {})
  }

  private sendFrame(m: TaskMessage, signal?: AbortSignal): Promise<void> {
    return this.writeFrames(encodeFrame(encodeTaskMessage(m)), signal)
  }

  private async writeFrames(frames: Uint8Array | Uint8ArrayList, signal?: AbortSignal): Promise<void> {
    if (this.closed || this.stream.status !== 'open' || this.stream.writeStatus !== 'writable')
      throw new AbortError('the task stream is closed')
    await this.writer.write(frames, signal)
  }

  /** Every second: alive while tasks are here; inputs that stopped arriving are dropped; an idle stream is closed. */
  private tick(): void {
    const now = Date.now()
    if (this.tasks.size === 0) {
      this.idleSince ??= now
      if (now - this.idleSince > this.env.limits.streamIdleMs) this.closeIdle()
      return
    }
    const idle = this.env.limits.inputIdleMs
    for (const [id, t] of this.tasks) {
      if (!t.started && now - t.lastInputAt > idle) this.fail(id, t, new TaskTimeoutError(`no input for ${idle} ms`))
    }
    if (this.tasks.size > 0) this.sendControl({ type: 'alive', id: 0 })
  }

  /**
   * Resets a stream that has had no task for `streamIdleMs`: a graceful close
   * would wait on the peer (and keep its place); with no task on it, the
   * submitter loses nothing and opens another when it needs one.
   */
  private closeIdle(): void {
    this.stop(new AbortError('the task stream was idle'))
  }

  private end(reason: Error): void {
    if (this.closed) return
    this.closed = true
    clearInterval(this.alive)
    for (const t of this.tasks.values()) this.finish(t, reason)
    this.tasks.clear()
  }
}
