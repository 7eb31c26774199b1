import { AbortError, PeerUnavailableError } from '../../errors.js'
import type { LocalCompute } from '../local-compute.js'
import type { RangeInput } from '../range-fetch.js'
import { isBusyRefusal } from './failures.js'
import type { RunOutcome } from './job-types.js'
import type { MetricsRing } from './metrics.js'
import type { PeerStatsTable } from './peer-stats.js'
import { type Candidate, pieceCostUsd, substrateOf } from './policies.js'
import type { TaskClient } from './task-client.js'

/** One piece's task as a Job hands it to its host. */
export interface PieceTask {
  /** A built-in op or a registered kernel's name. */
  op: string
  input: Uint8Array | RangeInput
  params: Record<string, unknown>
  deadlineMs: number
  prefer?: 'cpu' | 'gpu'
}

/** What a PieceRunner uses. */
export interface PieceRunnerInit {
  local: LocalCompute
  client: TaskClient
  ring: MetricsRing
  stats: PeerStatsTable
  /** Called once an attempt ends and its slot is free (jobs waiting for one may place a piece). */
  onSlotFree(): void
  log?: (line: string) => void
}

/** Pieces this small are not used to measure throughput (their time is the round trip). */
const MEASURE_MIN_BYTES = 64 * 1024

/**
 * Runs one attempt of a piece on a candidate: this node's pool, or a peer
 * through the task client. Keeps the peer's stats (in flight, throughput,
 * failures, cool-down) and the metrics ring; the Job judges the outcome.
 */
export class PieceRunner {
  private readonly init: PieceRunnerInit

  constructor(init: PieceRunnerInit) {
    this.init = init
  }

  /** Runs `task` on `c`; rejects with the attempt's error (`AbortError` when `signal` ended it). */
  async run(
    c: Candidate,
    task: PieceTask,
    meta: { job: string; piece: number; attempt: number },
    signal: AbortSignal,
  ): Promise<RunOutcome> {
    const { stats, ring } = this.init
    const s = stats.get(c.id)
    const bytes = task.input.length
    s.inflight++
    const t0 = performance.now()
    const substrate = substrateOf(c)
    try {
      const { output, execMs, where, validator } = c.local
        ? await this.runLocal(task, signal, t0)
        : await this.runRemote(c, task, signal, substrate)
      const wallMs = performance.now() - t0
      s.downs = 0
      s.busy = 0
      const costUsd = pieceCostUsd(c.caps, c.local, bytes, execMs)
      if (bytes >= MEASURE_MIN_BYTES) stats.measured(s, bytes / Math.max(wallMs, 0.01))
      ring.record({
        timestamp: Date.now(),
        ...meta,
        peer: c.id,
        substrate: where,
        execMs,
        wallMs,
        bytes,
        costUsd,
        ok: true,
      })
      return { output, execMs, wallMs, substrate: where, costUsd, ...(validator ? { validator } : {}) }
    } catch (err) {
      const e = err as Error
      const ours = signal.aborted
      // gone, or going: let it sit out instead of failing every piece placed there (only our own finding counts)
      if (!ours && !c.local && e instanceof PeerUnavailableError) stats.markDown(s)
      else if (!ours && isBusyRefusal(e)) stats.markBusy(s)
      this.init.log?.(`piece ${meta.job}/${meta.piece} attempt ${meta.attempt} on ${c.id}: ${e.name}: ${e.message}`)
      if (!ours) s.failures++
      ring.record({
        timestamp: Date.now(),
        ...meta,
        peer: c.id,
        substrate,
        execMs: 0,
        wallMs: performance.now() - t0,
        bytes,
        costUsd: 0,
        ok: false,
        error: ours ? 'AbortError' : e.name,
      })
      throw ours && e.name !== 'AbortError' ? new AbortError('cancelled') : e
    } finally {
      s.inflight--
      // after this job handles its result
      queueMicrotask(() => this.init.onSlotFree())
    }
  }

  private async runLocal(task: PieceTask, signal: AbortSignal, t0: number) {
    // a copy the worker may own (the job's buffer stays whole)
    const input = task.input instanceof Uint8Array ? task.input.slice() : task.input
    const r = await this.init.local.run(task.op, input, {
      params: task.params,
      signal,
      prefer: task.prefer,
      timeoutMs: task.deadlineMs,
      transfer: input instanceof Uint8Array ? [input.buffer as ArrayBuffer] : [],
    })
    return {
      output: r.output,
      execMs: performance.now() - t0,
      where: r.substrate === 'webgpu' ? 'local:webgpu' : 'local',
      validator: r.validator,
    }
  }

  private async runRemote(c: Candidate, task: PieceTask, signal: AbortSignal, substrate: string) {
    const r = await this.init.client.run(c.id, {
      kernel: task.op,
      params: task.params,
      input: task.input,
      deadlineMs: task.deadlineMs,
      prefer: task.prefer,
      signal,
    })
    return {
      output: r.output,
      execMs: r.execMs,
      where: r.substrate === 'webgpu' ? `${substrate}:webgpu` : substrate,
      validator: r.validator,
    }
  }
}
