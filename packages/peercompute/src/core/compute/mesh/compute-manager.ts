import type { Stream, StreamHandler } from '@libp2p/interface'
import { isBundleName, SIGNED_CAP_PREFIX } from '../../code/bundle-name.js'
import { CodeServer } from '../../code/code-server.js'
import type { CodeStore } from '../../code/code-store.js'
import { PeerComputeError } from '../../errors.js'
import { CODE_PROTOCOL } from '../../wire/code.js'
import type { Capabilities, Load } from '../../wire/registry.js'
import type { LocalCompute } from '../local-compute.js'
import { Job } from './job.js'
import type { JobHost, JobInit, JobResult } from './job-types.js'
import { MAP_KERNEL } from './map/batch-codec.js'
import { MapJob, type MapSpec } from './map/map-job.js'
import { MetricsRing, type MetricsSummary, type PieceMetric } from './metrics.js'
import { LIE_WEIGHT, PeerStatsTable } from './peer-stats.js'
import { PieceRunner } from './piece-runner.js'
import { type Candidate, POLICIES, peerSlots } from './policies.js'
import { type SubmitSpec, submitTask, type TaskResult, type TaskSpec } from './submit-task.js'
import { TaskClient } from './task-client.js'
import { type ExecutorStats, TaskExecutor, type TaskLimits, type TaskRunner } from './task-executor.js'
import { validateSpec } from './validate-spec.js'

export type { SubmitSpec, TaskResult, TaskSpec } from './submit-task.js'

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
  /** Peers whose stats (throughput, failures, lies) are remembered across jobs (default MAX_PEER_STATS, 4,096). */
  maxPeerStats?: number
  /** Largest bytes result of a registered kernel taken from a peer (default MAX_KERNEL_RESULT_BYTES, 64 MiB). */
  maxKernelResultBytes?: number
  /** Traveling code this node runs for others (set where `trust` is): fetched, verified, cached. */
  code?: CodeStore
  /** Runs the tasks other peers send instead of the local pool and traveling code (a gateway's backend). */
  runner?: TaskRunner
  /** Test-only fault injection: see `TaskExecutorInit.tamper`. */
  tamper?: (kernel: string, output: unknown) => unknown
  log?: (line: string) => void
}

/** The compute part of a node's status. */
export interface ComputeStatus {
  running: number
  queued: number
  jobs: number
  executor: ExecutorStats
  metrics: MetricsSummary
}

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
  private readonly stats: PeerStatsTable
  private readonly runner: PieceRunner
  private readonly jobs = new Set<Job>()
  /** The bundles this node published, served to the executors of its tasks. */
  readonly published = new CodeServer()
  private viewCache?: { at: number; caps: Capabilities; peers: PeerView[] }
  private stopped = false

  constructor(init: ComputeManagerInit) {
    this.init = init
    this.local = init.local
    this.ring = new MetricsRing(init.metricsCapacity)
    this.executor = new TaskExecutor({
      host: init.network,
      runner: init.runner ?? travelingRunner(init.local, init.code),
      limits: init.limits,
      tamper: init.tamper,
      log: init.log,
      // a peer that abused this executor is a poor candidate for our own work too
      onAbuse: (peer, reason) => {
        this.stats.get(peer).failures += LIE_WEIGHT
        init.log?.(`peer ${peer} cut off by the executor (${reason}); scored down`)
      },
    })
    this.client = new TaskClient(init.network, { maxKernelResultBytes: init.maxKernelResultBytes })
    this.stats = new PeerStatsTable(init.maxPeerStats)
    this.runner = new PieceRunner({
      local: this.local,
      client: this.client,
      ring: this.ring,
      stats: this.stats,
      log: init.log,
      // one slot frees one place: wake starved jobs in submission order until one takes it
      onSlotFree: () => {
        for (const j of this.jobs) if (j.starved && j.wake()) break
      },
    })
  }

  /** Serves tasks to other peers. */
  async start(): Promise<void> {
    await this.executor.start()
    await this.init.network.handle(CODE_PROTOCOL, (stream) => this.published.serve(stream), { maxInboundStreams: 4 })
  }

  /**
   * Makes a signed bundle available to this node's tasks and returns the name
   * tasks use for it (`bundle:…`). Peers that trust its key fetch it from here.
   * `InvalidOptionError` for bytes that are not a bundle.
   */
  async publish(bundle: Uint8Array): Promise<string> {
    if (this.stopped) throw new PeerComputeError('the node is stopped')
    const info = await this.published.publish(bundle)
    this.viewCache = undefined
    return info.name
  }

  /**
   * Runs a data job over the mesh: pieces placed by the policy (default
   * `balanced`), re-placed on failure, checked by redundancy, combined per op.
   */
  submit(spec: SubmitSpec): Job {
    if (this.stopped) throw new PeerComputeError('the node is stopped')
    validateSpec(spec)
    return this.startJob({ ...spec, policy: undefined }, spec.policy)
  }

  /**
   * Runs one kernel over many inputs: items are batched into tasks placed like
   * a data job's pieces; results come in input order (`for await`, or `result`).
   */
  map(spec: MapSpec): MapJob {
    if (this.stopped) throw new PeerComputeError('the node is stopped')
    const named = typeof spec?.kernel === 'string' && spec.kernel !== ''
    const code = spec?.code
    if (named === (code !== undefined))
      throw new TypeError('map needs a kernel name or signed code (a bundle or its name), and not both')
    let kernel: string | Promise<string> = spec.kernel ?? ''
    if (code instanceof Uint8Array) kernel = this.publish(code)
    else if (code !== undefined) {
      if (typeof code !== 'string' || !isBundleName(code) || !this.published.bytes(code))
        throw new TypeError('map code must be a signed bundle or the name of one this node published')
      kernel = code
    }
    return new MapJob(
      spec,
      {
        candidates: () => this.candidates(),
        startJob: (init) => this.startJob(init, spec.policy as SubmitSpec['policy']),
      },
      kernel,
    )
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
  submitTask(task: TaskSpec): Promise<TaskResult> {
    return submitTask(
      {
        local: this.local,
        peerId: this.init.network.peerId,
        submit: (spec) => this.submit(spec),
        manifest: (name) => this.published.get(name)?.manifest,
        startJob: (init, policy) => this.startJob(init, policy),
      },
      task,
    )
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
    this.published.clear()
    await Promise.all([this.local.stop(), this.init.code?.stop()])
  }

  private readonly host: JobHost = {
    candidates: () => this.candidates(),
    run: (c, task, meta, signal) => this.runner.run(c, task, meta, signal),
    flagLiar: (peer, meta) => {
      this.ring.flagLiar(peer, meta)
      this.stats.get(peer).failures += LIE_WEIGHT
      const what = meta.reason === 'malformed' ? 'a malformed' : 'a wrong'
      this.init.log?.(`peer ${peer} returned ${what} result for ${meta.job} piece ${meta.piece}; excluded from the job`)
    },
  }

  /** Peers and this node's capabilities change slowly: read them at most every 100 ms (placement runs per piece). */
  private view(): { caps: Capabilities; peers: PeerView[] } {
    const now = performance.now()
    if (!this.viewCache || now - this.viewCache.at > 100) {
      this.viewCache = {
        at: now,
        caps: this.init.capabilities(),
        peers: this.init.network.peers().map(this.withBundles),
      }
    }
    return this.viewCache
  }

  /**
   * A peer's view with the bundles published here that it can run: those
   * signed by a key it says it trusts (WGSL shaders only where it has a GPU).
   */
  private readonly withBundles = (p: PeerView): PeerView => {
    const trusts = p.caps.kernels.filter((k) => k.startsWith(SIGNED_CAP_PREFIX))
    if (trusts.length === 0) return p
    const names = this.published
      .namesSignedBy(trusts.map((k) => k.slice(SIGNED_CAP_PREFIX.length)))
      .filter((n) => p.caps.gpu || this.published.get(n)?.manifest.kind !== 'wgsl')
    return names.length ? { ...p, caps: { ...p.caps, kernels: [...p.caps.kernels, ...names] } } : p
  }

  /** Where a job could place a piece now: this node, then the peers, with what this node knows of each. */
  candidates(): Candidate[] {
    const self = this.init.network.peerId
    const own = this.stats.get(self)
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
      const s = this.stats.get(p.id)
      out.push({
        id: p.id,
        local: false,
        caps: p.caps,
        load: p.load,
        rttMs: p.rttMs,
        inflight: s.inflight,
        slots: peerSlots(p.caps.cores),
        throughput: s.throughput,
        failures: s.failures,
        ...(s.downUntil !== undefined && s.downUntil > now ? { downUntil: s.downUntil } : {}),
      })
    }
    return out
  }
}

/**
 * The executor's runner: bundle names go to the code store (fetched from the
 * asking peer and verified first), everything else to the local compute.
 */
function travelingRunner(local: LocalCompute, code: CodeStore | undefined): TaskRunner {
  return {
    get maxWorkers() {
      return local.maxWorkers
    },
    hasKernel: (name) => (isBundleName(name) ? code !== undefined : local.hasKernel(name)),
    async run(kernel, input, opts) {
      // a map batch over a bundle runs where the bundle runs: in the code store's pool
      const batchOf = kernel === MAP_KERNEL ? mapBundle(opts.params) : undefined
      if (batchOf) return runBundleBatch(code, batchOf, input, opts)
      if (!isBundleName(kernel)) return local.run(kernel, input, opts)
      if (!code || !opts.peer) throw new PeerComputeError('this node runs no traveling code')
      return code.run(kernel, opts.peer, input, opts)
    },
  }
}

/** A map batch over bundle `name` on the code store (fetched from the asking peer and verified first). */
async function runBundleBatch(
  code: CodeStore | undefined,
  name: string,
  input: unknown,
  opts: { params?: unknown; signal?: AbortSignal; transfer?: ArrayBuffer[]; peer?: string },
): Promise<{ output: unknown; substrate: 'cpu' }> {
  if (!code || !opts.peer) throw new PeerComputeError('this node runs no traveling code')
  return { output: await code.runBatch(name, opts.peer, input, opts), substrate: 'cpu' }
}

/** The bundle a map batch's params name, if they name one. */
function mapBundle(params: unknown): string | undefined {
  const k = (params as { kernel?: unknown } | null | undefined)?.kernel
  return typeof k === 'string' && isBundleName(k) ? k : undefined
}

export type { JobResult }
