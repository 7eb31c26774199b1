import type { Stream, StreamHandler } from '@libp2p/interface'
import { AbortError, PeerComputeError } from '../../errors.js'
import { isOp, OPS, type Op } from '../../ops.js'
import type { Capabilities, Load } from '../../wire/registry.js'
import type { WgslTask } from '../gpu/gpu-executor.js'
import type { LocalCompute } from '../local-compute.js'
import type { RangeInput } from '../range-fetch.js'
import {
  Job,
  type JobHost,
  type JobInit,
  type JobResult,
  type JobSpec,
  type PieceReport,
  type RunOutcome,
} from './job.js'
import { MetricsRing, type MetricsSummary, type PieceMetric } from './metrics.js'
import { type Candidate, POLICIES, type PolicyName, pieceCostUsd, type SchedulerPolicy } from './policies.js'
import { TaskClient } from './task-client.js'
import { type ExecutorStats, TaskExecutor, type TaskLimits } from './task-executor.js'

/** A peer as the compute manager sees it: what it offers, how busy it is, how far. */
export interface PeerView {
  id: string
  caps: Capabilities
  load: Load
  rttMs?: number
}

/** What the compute manager needs of the network (a NetworkManager plus the state's presence). */
export interface ComputeNetwork {
  readonly peerId: string
  /** Mesh peers that may run tasks (relays and this node excluded). */
  peers(): PeerView[]
  handle(protocol: string, handler: StreamHandler, opts?: { maxInboundStreams?: number }): Promise<void>
  dialProtocol(peer: string, protocol: string, opts?: { signal?: AbortSignal }): Promise<Stream>
}

/** Options of a ComputeManager. */
export interface ComputeManagerInit {
  local: LocalCompute
  network: ComputeNetwork
  /** What this node offers (its own candidate's capabilities). */
  capabilities: () => Capabilities
  /** Executor limits for tasks from other peers. */
  limits?: Partial<TaskLimits>
  /** Piece metrics kept (default 1,000). */
  metricsCapacity?: number
  /** Test-only fault injection: see `TaskExecutorInit.tamper`. */
  tamper?: (kernel: string, output: unknown) => unknown
  log?: (line: string) => void
}

/** A job as `submit` takes it: the policy may be named. */
export interface SubmitSpec extends Omit<JobSpec, 'policy'> {
  policy?: PolicyName | SchedulerPolicy
}

/** A task in the shape of the original PeerCompute README. */
export type TaskSpec =
  | ({
      id: string
      type: 'kernel'
      kernel: string
      data: Uint8Array | RangeInput
      params?: Record<string, unknown>
    } & Pick<SubmitSpec, 'redundancy' | 'policy' | 'requirements' | 'signal'>)
  | ({ id: string; type: 'webgpu'; signal?: AbortSignal } & WgslTask)

/** What `submitTask` resolves to; failures resolve too, with `success: false` and the error. */
export interface TaskResult {
  id: string
  success: boolean
  result?: unknown
  error?: { name: string; message: string }
  substrate: string
  peers: string[]
  executionTimeMs: number
  costUsd: number
  pieces: PieceReport[]
}

/** The compute part of a node's status. */
export interface ComputeStatus {
  running: number
  queued: number
  jobs: number
  executor: ExecutorStats
  metrics: MetricsSummary
}

interface PeerStats {
  throughput?: number
  failures: number
  inflight: number
  /** Unreachable (its stream closed or could not open): not a candidate before this time. */
  downUntil?: number
  /** Unreachable spells in a row: the next cool-down doubles. */
  downs: number
}

/** How long an unreachable peer sits out, doubling per spell in a row (ms). */
const COOL_DOWN = { initialMs: 2000, maxMs: 60_000 }

/**
 * A node's compute: its own worker pool and GPU, the executor that serves other
 * peers, and the scheduler that places jobs on the mesh.
 */
export class ComputeManager {
  readonly local: LocalCompute
  private readonly init: ComputeManagerInit
  private readonly executor: TaskExecutor
  private readonly client: TaskClient
  private readonly ring: MetricsRing
  private readonly stats = new Map<string, PeerStats>()
  private readonly jobs = new Set<Job>()
  private viewCache?: { at: number; caps: Capabilities; peers: PeerView[] }
  private stopped = false

  constructor(init: ComputeManagerInit) {
    this.init = init
    this.local = init.local
    this.ring = new MetricsRing(init.metricsCapacity)
    this.executor = new TaskExecutor({
      host: init.network,
      runner: init.local,
      limits: init.limits,
      tamper: init.tamper,
      log: init.log,
    })
    this.client = new TaskClient(init.network)
  }

  /** Serves tasks to other peers. */
  async start(): Promise<void> {
    await this.executor.start()
  }

  /**
   * Runs a data job over the mesh: pieces placed by the policy (default
   * `balanced`), re-placed on failure, checked by redundancy, combined per op.
   */
  submit(spec: SubmitSpec): Job {
    if (this.stopped) throw new PeerComputeError('the node is stopped')
    validate(spec)
    return this.startJob({ ...spec, policy: undefined }, spec.policy)
  }

  private startJob(init: JobInit, policyName: SubmitSpec['policy']): Job {
    const policy =
      typeof policyName === 'string' || policyName === undefined ? POLICIES[policyName ?? 'balanced'] : policyName
    if (!policy)
      throw new TypeError(`unknown policy "${String(policyName)}"; one of ${Object.keys(POLICIES).join(', ')}`)
    const job = new Job(init, this.host, policy)
    this.jobs.add(job)
    job.addEventListener('done', () => this.jobs.delete(job), { once: true })
    return job
  }

  /** Runs a task in the original README's shape: `kernel` tasks on the mesh, `webgpu` (WGSL) tasks on this node's GPU. */
  async submitTask(task: TaskSpec): Promise<TaskResult> {
    const t0 = performance.now()
    const base = { id: task.id, substrate: 'local', peers: [] as string[], costUsd: 0, pieces: [] as PieceReport[] }
    try {
      if (task.type === 'webgpu') {
        const { id: _id, type: _type, signal, ...wgsl } = task
        const result = await this.local.runWgsl(wgsl, signal)
        return {
          ...base,
          success: true,
          result,
          substrate: 'webgpu',
          peers: [this.init.network.peerId],
          executionTimeMs: performance.now() - t0,
        }
      }
      if (task.type !== 'kernel') throw new TypeError(`unknown task type "${(task as { type: unknown }).type}"`)
      const { data, redundancy, requirements, signal } = task
      const job = isOp(task.kernel)
        ? this.submit({
            op: task.kernel,
            data,
            imm: task.params?.imm as number | undefined,
            key: task.params?.key as Uint8Array | undefined,
            redundancy,
            policy: task.policy,
            requirements,
            signal,
          })
        : this.startJob(
            { kernel: task.kernel, data, params: task.params, redundancy, requirements, signal },
            task.policy,
          )
      return { ...base, ...(await job.result), id: task.id }
    } catch (err) {
      const e = err as Error
      return {
        ...base,
        success: false,
        error: { name: e.name, message: e.message },
        executionTimeMs: performance.now() - t0,
      }
    }
  }

  /** The newest piece metrics (default all the ring holds), oldest first. */
  metrics(opts: { limit?: number } = {}): PieceMetric[] {
    return this.ring.list(opts)
  }

  /** Counters for `getStatus()`. */
  status(): ComputeStatus {
    const pool = this.local.stats()
    const ex = this.executor.stats()
    return {
      running: pool.running,
      queued: pool.queued,
      jobs: this.jobs.size,
      executor: ex,
      metrics: this.ring.summary(),
    }
  }

  /** Load as advertised to others. */
  load(): Load {
    const pool = this.local.stats()
    return { running: pool.running, queued: pool.queued }
  }

  /** Cancels every job, stops serving, closes every task stream, stops the pool and the GPU. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    for (const j of this.jobs) j.cancel()
    this.jobs.clear()
    this.executor.stop()
    this.client.stop()
    await this.local.stop()
  }

  private readonly host: JobHost = {
    candidates: () => this.candidates(),
    run: (c, task, meta, signal) => this.run(c, task, meta, signal),
    flagLiar: (peer, meta) => {
      this.ring.flagLiar(peer, meta)
      const s = this.peerStats(peer)
      s.failures += 10
      this.init.log?.(`peer ${peer} returned a wrong result for ${meta.job} piece ${meta.piece}; excluded from the job`)
    },
  }

  private peerStats(id: string): PeerStats {
    let s = this.stats.get(id)
    if (!s) {
      s = { failures: 0, inflight: 0, downs: 0 }
      this.stats.set(id, s)
    }
    return s
  }

  /** Peers and this node's capabilities change slowly: read them at most every 100 ms (placement runs per piece). */
  private view(): { caps: Capabilities; peers: PeerView[] } {
    const now = performance.now()
    if (!this.viewCache || now - this.viewCache.at > 100) {
      this.viewCache = { at: now, caps: this.init.capabilities(), peers: this.init.network.peers() }
    }
    return this.viewCache
  }

  private candidates(): Candidate[] {
    const self = this.init.network.peerId
    const own = this.peerStats(self)
    const { caps, peers } = this.view()
    const out: Candidate[] = [
      {
        id: self,
        local: true,
        caps,
        load: this.load(),
        inflight: own.inflight,
        slots: this.local.maxWorkers,
        throughput: own.throughput,
        failures: own.failures,
      },
    ]
    const now = performance.now()
    for (const p of peers) {
      if (p.id === self) continue
      const s = this.peerStats(p.id)
      out.push({
        id: p.id,
        local: false,
        caps: p.caps,
        load: p.load,
        rttMs: p.rttMs,
        inflight: s.inflight,
        // one piece more than cores: the next one's bytes travel while the last one runs
        slots: Math.min(Math.max(1, p.caps.cores), 16) + 1,
        throughput: s.throughput,
        failures: s.failures,
        ...(s.downUntil !== undefined && s.downUntil > now ? { downUntil: s.downUntil } : {}),
      })
    }
    return out
  }

  private async run(
    c: Candidate,
    task: {
      op: Op | string
      input: Uint8Array | RangeInput
      params: Record<string, unknown>
      deadlineMs: number
      prefer?: 'cpu' | 'gpu'
    },
    meta: { job: string; piece: number; attempt: number },
    signal: AbortSignal,
  ): Promise<RunOutcome> {
    const s = this.peerStats(c.id)
    const bytes = task.input instanceof Uint8Array ? task.input.length : task.input.length
    s.inflight++
    const t0 = performance.now()
    const substrate = c.local ? 'local' : c.caps.substrate
    try {
      let output: unknown
      let execMs: number
      let where = substrate
      if (c.local) {
        // a copy the worker may own (the job's buffer stays whole)
        const input = task.input instanceof Uint8Array ? task.input.slice() : task.input
        const r = await this.local.run(task.op, input, {
          params: task.params,
          signal,
          prefer: task.prefer,
          timeoutMs: task.deadlineMs,
          transfer: input instanceof Uint8Array ? [input.buffer as ArrayBuffer] : [],
        })
        output = r.output
        execMs = performance.now() - t0
        if (r.substrate === 'webgpu') where = 'local:webgpu'
      } else {
        const r = await this.client.run(c.id, {
          kernel: task.op,
          params: task.params,
          input: task.input,
          deadlineMs: task.deadlineMs,
          prefer: task.prefer,
          signal,
        })
        output = r.output
        execMs = r.execMs
        if (r.substrate === 'webgpu') where = `${substrate}:webgpu`
      }
      const wallMs = performance.now() - t0
      s.downs = 0
      const costUsd = pieceCostUsd(c.caps, c.local, bytes, execMs)
      if (bytes >= 64 * 1024) {
        const t = bytes / Math.max(wallMs, 0.01)
        s.throughput = s.throughput === undefined ? t : 0.7 * s.throughput + 0.3 * t
      }
      this.ring.record({
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
      return { output, execMs, wallMs, substrate: where, costUsd }
    } catch (err) {
      const e = err as Error
      const ours = signal.aborted
      if (!ours && !c.local && e.name === 'PeerUnavailableError') {
        // gone, or going: let it sit out instead of failing every piece placed there
        s.downUntil = performance.now() + Math.min(COOL_DOWN.maxMs, COOL_DOWN.initialMs * 2 ** s.downs)
        s.downs++
      }
      this.init.log?.(`piece ${meta.job}/${meta.piece} attempt ${meta.attempt} on ${c.id}: ${e.name}: ${e.message}`)
      if (!ours) s.failures++
      this.ring.record({
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
      // a slot is free: jobs waiting for one may place a piece now (after this job handles its result)
      // one slot frees one place: wake starved jobs in submission order until one takes it
      queueMicrotask(() => {
        for (const j of this.jobs) if (j.starved && j.wake()) break
      })
    }
  }
}

/** Checks a job spec before anything runs; bad input is a TypeError or RangeError that says what is wrong. */
function validate(spec: SubmitSpec): void {
  if (!spec || typeof spec !== 'object') throw new TypeError('submit takes a job spec object')
  if (!isOp(spec.op)) throw new TypeError(`op must be one of ${OPS.join(', ')}; got ${String(spec.op)}`)
  const d = spec.data
  if (!(d instanceof Uint8Array)) {
    if (!d || typeof d !== 'object' || typeof d.url !== 'string')
      throw new TypeError('data must be a Uint8Array or { url, offset?, length }')
    if (!/^https?:\/\//.test(d.url)) throw new TypeError(`data.url must be http(s): ${d.url}`)
    if (!Number.isSafeInteger(d.length) || d.length < 0) throw new RangeError('data.length must be an integer ≥ 0')
    if (d.offset !== undefined && (!Number.isSafeInteger(d.offset) || d.offset < 0))
      throw new RangeError('data.offset must be an integer ≥ 0')
  }
  if (spec.imm !== undefined && (!Number.isInteger(spec.imm) || spec.imm < 0 || spec.imm > 255))
    throw new RangeError(`imm must be an integer in 0..255; got ${spec.imm}`)
  if (spec.key !== undefined && (!(spec.key instanceof Uint8Array) || spec.key.length === 0 || spec.key.length > 1024))
    throw new RangeError('key must be 1 to 1024 bytes')
  const k = spec.redundancy ?? 1
  if (!Number.isInteger(k) || k < 1 || k > 16) throw new RangeError(`redundancy must be an integer in 1..16; got ${k}`)
  if (spec.pieceBytes !== undefined && (!Number.isSafeInteger(spec.pieceBytes) || spec.pieceBytes < 1))
    throw new RangeError('pieceBytes must be an integer ≥ 1')
  if (spec.maxAttempts !== undefined && (!Number.isInteger(spec.maxAttempts) || spec.maxAttempts < 1))
    throw new RangeError('maxAttempts must be an integer ≥ 1')
  if (spec.signal?.aborted) throw new AbortError('aborted before the job started')
}

export type { JobResult }
