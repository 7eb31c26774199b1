import type { Stream, StreamHandler } from '@libp2p/interface'
import { AbortError, RateLimitedError } from '../../errors.js'
import { TASK_PROTOCOL } from '../../wire/task.js'
import { AdmissionLedger } from './executor/ledger.js'
import { resolveLimits, type TaskLimits } from './executor/limits.js'
import type { TaskRunner } from './executor/run-task.js'
import { type ExecutorCounters, TaskSession } from './executor/session.js'
import { Slots } from './executor/slots.js'

export { ALIVE_MS, TASK_LIMITS, type TaskLimits } from './executor/limits.js'
export type { TaskRunner } from './executor/run-task.js'

/** Streams one connection may open to the task protocol (libp2p's own per-connection bound). */
const STREAMS_PER_CONNECTION = 8

/** Where the executor serves its protocol (a NetworkManager). */
export interface ProtocolHost {
  handle(protocol: string, handler: StreamHandler, opts?: { maxInboundStreams?: number }): Promise<void>
}

/** Options of a TaskExecutor. */
export interface TaskExecutorInit {
  host: ProtocolHost
  runner: TaskRunner
  /** Overrides of `TASK_LIMITS`; each must be a positive number (`InvalidOptionError` otherwise). */
  limits?: Partial<TaskLimits>
  /**
   * Fault injection, for tests only: rewrites each output before it is sent
   * (a lying peer). Never set in production.
   */
  tamper?: (kernel: string, output: unknown) => unknown
  /** Where failures are described in full (peers hear only an error name and a fixed message). */
  log?: (line: string) => void
  /** Told when a peer is cut off and why (it kept going after its refusals ran out, or did not read): for peer scoring. */
  onAbuse?: (peer: string, reason: string) => void
}

/** What the executor has done and holds, for status reports, tests and benchmarks. */
export interface ExecutorStats extends ExecutorCounters {
  /** Tasks admitted now, all peers: receiving input, waiting for a URL slot, running or answering. */
  admitted: number
  /** The most tasks admitted at once since start. */
  peakAdmitted: number
  /** Input and output bytes held now, all peers (input is held as it arrives, never on a peer's word). */
  bytesHeld: number
  /** The most bytes held at once since start. */
  peakBytesHeld: number
  /** Task streams open now, all peers. */
  streams: number
  /** The most task streams open at once since the executor started. */
  peakStreams: number
  /** Peers cut off now (their task streams are reset on sight). */
  cutOffPeers: number
  /** URL-sourced tasks running now / waiting for a slot of the pool share. */
  urlTasks: number
  urlTasksWaiting: number
}

/**
 * Serves the task protocol: runs the kernels this peer has (and only those)
 * for other peers, within its limits. Every task counts against per-peer and
 * node-wide budgets from its request frame (see `TaskLimits`). A malformed or
 * oversized frame gets a typed error back and costs only that stream; a peer
 * that keeps going after its refusals ran out is cut off; every other peer is
 * served on. Tasks that fail while running tell the peer only an error name
 * and a fixed message; the detail goes to `log`.
 */
export class TaskExecutor {
  private readonly init: TaskExecutorInit
  private readonly limits: TaskLimits
  private readonly ledger: AdmissionLedger
  private readonly urlSlots: Slots
  private readonly sessions = new Set<TaskSession>()
  private readonly counters: ExecutorCounters = {
    running: 0,
    completed: 0,
    failed: 0,
    cancelled: 0,
    refused: 0,
    streamsRefused: 0,
    cutOffs: 0,
  }
  private stopped = false

  constructor(init: TaskExecutorInit) {
    this.init = init
    this.limits = resolveLimits(init.limits)
    this.ledger = new AdmissionLedger(this.limits)
    this.urlSlots = new Slots((init.runner.maxWorkers ?? 2) * this.limits.urlPoolShare)
  }

  /** Starts serving the task protocol. */
  async start(): Promise<void> {
    await this.init.host.handle(TASK_PROTOCOL, (stream, conn) => this.serve(stream, conn.remotePeer.toString()), {
      maxInboundStreams: STREAMS_PER_CONNECTION,
    })
  }

  /** Counters and what is held right now. */
  stats(): ExecutorStats {
    const held = this.ledger.stats()
    return {
      ...this.counters,
      admitted: held.admitted,
      peakAdmitted: held.peakAdmitted,
      bytesHeld: held.bytesHeld,
      peakBytesHeld: held.peakBytesHeld,
      streams: held.streams,
      peakStreams: held.peakStreams,
      cutOffPeers: held.cutOff,
      urlTasks: this.urlSlots.busy,
      urlTasksWaiting: this.urlSlots.queued,
    }
  }

  /** Aborts every task and resets every task stream; later streams are reset on arrival. */
  stop(): void {
    this.stopped = true
    const reason = new AbortError('the executor stopped')
    for (const s of this.sessions) s.stop(reason)
    this.sessions.clear()
  }

  /** A session cut `peer` off: its other task streams go too, and whoever scores peers is told. */
  private cutOff(peer: string, reason: string, from: TaskSession): void {
    const err = new RateLimitedError(`cut off: ${reason}`)
    for (const s of this.sessions) if (s !== from && s.peer === peer) s.stop(err)
    this.init.onAbuse?.(peer, reason)
  }

  private serve(stream: Stream, peer: string): void {
    const refusal = this.stopped ? new AbortError('the executor stopped') : this.ledger.openStream(peer)
    if (refusal) {
      // O(1) and silent: a flood of streams gets no replies to queue
      this.counters.streamsRefused++
      stream.abort(refusal)
      return
    }
    const session: TaskSession = new TaskSession(
      {
        runner: this.init.runner,
        limits: this.limits,
        urlSlots: this.urlSlots,
        tamper: this.init.tamper,
        ledger: this.ledger,
        counters: this.counters,
        log: this.init.log,
        onAbuse: (p, reason) => this.cutOff(p, reason, session),
        serving: () => !this.stopped,
      },
      stream,
      peer,
      () => {
        this.sessions.delete(session)
        this.ledger.closeStream(peer)
      },
    )
    this.sessions.add(session)
  }
}
