import { TypedEventEmitter } from 'main-event'
import { signedCap } from '../code/bundle-name.js'
import { type CodePool, CodeStore } from '../code/code-store.js'
import type { LocalCompute } from '../compute/local-compute.js'
import {
  ComputeManager,
  type ComputeStatus,
  type PeerView,
  type SubmitSpec,
  type TaskResult,
  type TaskSpec,
} from '../compute/mesh/compute-manager.js'
import type { Job } from '../compute/mesh/job.js'
import type { PieceMetric } from '../compute/mesh/metrics.js'
import { PeerComputeError } from '../errors.js'
import type { NetworkManager, NetworkStatus } from '../network/network-manager.js'
import { StateBinding } from '../state/state-binding.js'
import type { StateManager } from '../state/state-manager.js'
import type { Capabilities, Load, PeerRecord } from '../wire/registry.js'
import type { NodeOptions, StorageMode } from './options.js'

/** Events of a node. */
export interface NodeEvents {
  'peer:join': CustomEvent<PeerRecord>
  'peer:leave': CustomEvent<{ id: string }>
  'state:change': CustomEvent<{ peer?: string; bytes: number }>
  /** The status, every `statusIntervalMs`. */
  status: CustomEvent<NodeStatus>
}

/** A node's status as a plain object. */
export interface NodeStatus {
  peerId: string
  started: boolean
  storageMode: StorageMode
  topology: NetworkStatus['topology']
  relays: NetworkStatus['relays']
  /** Open connections, each with its transport (webrtc, websocket, tcp, relayed). */
  connections: NetworkStatus['connections']
  /** Peers known (from relays and from presence), with capabilities and RTT. */
  peers: Array<PeerView & { connected: string | null; via: 'relay' | 'presence' }>
  capabilities: Capabilities
  /** Tasks running and queued on this node's pool, jobs in progress, executor counters, metrics. */
  tasks: ComputeStatus
  /** The last 10 piece metrics. */
  recentMetrics: PieceMetric[]
  state: { room: string; peers: string[]; versions: string[] }
}

/** What the platform gives a NodeKernel. */
export interface NodeKernelInit {
  options: NodeOptions
  network: NetworkManager
  state: StateManager
  local: LocalCompute
  substrate: 'node' | 'browser'
  memoryMb: number
  /** Loads the stored state and keeps storing it (`storageMode: 'local'`); returns what flushes and closes. */
  openStorage?: (state: StateManager) => Promise<() => Promise<void>>
  /** Where traveling code runs (a worker pool with resource limits); with `trust`, it runs verified bundles. */
  codePool?: CodePool
  /** Releases what the platform made beyond the parts (e.g. a GPU instance). */
  release?: () => Promise<void>
}

/**
 * A PeerCompute node: one network, one shared state and one compute manager,
 * started in that order and stopped in reverse, with nothing left running.
 */
export class NodeKernel extends TypedEventEmitter<NodeEvents> {
  readonly network: NetworkManager
  readonly state: StateManager
  readonly compute: ComputeManager
  readonly storageMode: StorageMode
  private readonly init: NodeKernelInit
  private readonly binding: StateBinding
  private closeStorage?: () => Promise<void>
  private timer?: ReturnType<typeof setInterval>
  private started = false
  private stopped = false

  constructor(init: NodeKernelInit) {
    super()
    this.init = init
    this.network = init.network
    this.state = init.state
    this.storageMode = init.options.storageMode ?? 'memory'
    this.binding = new StateBinding(init.state, init.network)
    const net = init.network
    this.compute = new ComputeManager({
      local: init.local,
      capabilities: () => this.capabilities(),
      limits: init.options.limits,
      runner: init.options.gateway,
      tamper: init.options.tamper,
      log: init.options.log,
      code:
        (init.codePool || init.local.webgpu) && init.options.trust?.length
          ? new CodeStore({
              trust: init.options.trust,
              pool: init.codePool,
              // signed WGSL runs on this node's GPU (the local compute says GpuUnavailableError where it has none)
              gpu: init.local.webgpu ? (task, signal) => init.local.runWgsl(task, signal) : undefined,
              wgslLimits: init.options.wgslLimits,
              dial: (peer, p, o) => net.dialProtocol(peer, p, o),
              own: (name) => this.compute.published.bytes(name),
              log: init.options.log,
            })
          : undefined,
      network: {
        get peerId() {
          return net.peerId
        },
        peers: () => this.peerViews(),
        handle: (p, h, o) => net.handle(p, h, o),
        dialProtocol: (peer, p, o) => net.dialProtocol(peer, p, o),
      },
    })
  }

  /** This node's peer id. */
  get peerId(): string {
    return this.network.peerId
  }

  /** Brings up the network, then the shared state (loading what is stored), then compute. */
  async start(): Promise<void> {
    if (this.stopped) throw new PeerComputeError('a stopped node cannot start again; create a new one')
    if (this.started) return
    this.started = true
    this.network.addEventListener('peer:join', this.onJoin)
    this.network.addEventListener('peer:leave', this.onLeave)
    this.state.addEventListener('state:change', this.onChange)
    await this.network.start()
    if (this.init.openStorage) this.closeStorage = await this.init.openStorage(this.state)
    await this.binding.start()
    await this.compute.start()
    this.publishPresence()
    this.timer = setInterval(() => {
      this.publishPresence()
      if (this.listenerCount('status') > 0) this.emit('status', this.getStatus())
    }, this.init.options.statusIntervalMs ?? 5000)
  }

  /** Stops compute, state and network in that order; every socket, timer, worker and GPU device is released. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    clearInterval(this.timer)
    this.network.removeEventListener('peer:join', this.onJoin)
    this.network.removeEventListener('peer:leave', this.onLeave)
    this.state.removeEventListener('state:change', this.onChange)
    await this.compute.stop()
    this.binding.stop()
    this.state.stop()
    await this.closeStorage?.()
    await this.network.stop()
    await this.init.release?.()
  }

  /** Runs a data job on the mesh (see `ComputeManager.submit`). */
  submit(spec: SubmitSpec): Job {
    return this.compute.submit(spec)
  }

  /** Runs a task in the original README's shape (see `ComputeManager.submitTask`). */
  submitTask(task: TaskSpec): Promise<TaskResult> {
    return this.compute.submitTask(task)
  }

  /**
   * Makes kernel `name` runnable here and for other peers: `moduleUrl` exports
   * `(input, params, { signal }) => output`. The relays and the room hear of it at once.
   */
  registerKernel(name: string, moduleUrl: string): void {
    this.init.local.registerKernel(name, moduleUrl)
    this.network.announce()
    if (this.started) this.publishPresence()
  }

  /**
   * Makes a signed bundle available to this node's tasks; returns the name
   * tasks give as `kernel` (`bundle:…`). Only peers that trust its signer run it.
   */
  publish(bundle: Uint8Array): Promise<string> {
    return this.compute.publish(bundle)
  }

  /** What this node offers to the mesh. */
  capabilities(): Capabilities {
    const gw = this.init.options.gateway
    if (gw) {
      const info = gw.info()
      return {
        cores: info.concurrency,
        memoryMb: info.memoryMb,
        gpu: false,
        kernels: gw.kernels(),
        substrate: 'gateway',
        price: this.init.options.price ?? { model: 'free', usd: 0 },
        gateway: info,
      }
    }
    // traveling code runs here where a pool takes kernels or a GPU takes shaders
    const trusted = this.init.codePool || this.init.local.webgpu ? (this.init.options.trust ?? []) : []
    return {
      cores: this.init.local.maxWorkers,
      memoryMb: this.init.memoryMb,
      gpu: this.init.local.webgpu,
      kernels: [...this.init.local.kernels(), ...trusted.map(signedCap)],
      substrate: this.init.substrate,
      price:
        this.init.substrate === 'browser'
          ? { model: 'free', usd: 0 }
          : (this.init.options.price ?? { model: 'free', usd: 0 }),
    }
  }

  /** How busy this node is, with the totals of its metrics ring (the relay shows them). */
  load(): Load {
    const m = this.compute.status().metrics
    const own = this.init.options.gateway?.load() ?? this.compute.load()
    return {
      running: own.running,
      queued: own.queued,
      metrics: { ok: m.ok, failed: m.failed, bytes: m.bytes, costUsd: m.costUsd },
    }
  }

  /** A plain object: identity, connections, peers, capabilities, tasks, metrics, state. */
  getStatus(): NodeStatus {
    const net = this.network.getStatus()
    const connected = new Map(net.peers.map((p) => [p.id, p.connected]))
    for (const c of net.connections) if (!connected.get(c.peer)) connected.set(c.peer, c.transport)
    const registry = new Set(net.peers.map((p) => p.id))
    return {
      peerId: net.peerId,
      started: this.started && !this.stopped,
      storageMode: this.storageMode,
      topology: net.topology,
      relays: net.relays,
      connections: net.connections,
      peers: this.peerViews().map((p) => ({
        ...p,
        connected: connected.get(p.id) ?? null,
        via: registry.has(p.id) ? 'relay' : 'presence',
      })),
      capabilities: this.capabilities(),
      tasks: this.compute.status(),
      recentMetrics: this.compute.metrics({ limit: 10 }),
      state: { room: this.state.room, peers: this.state.peers(), versions: this.state.versionNames() },
    }
  }

  /** Peers from the relays' registries, and those only presence tells of (the relay may be gone). */
  private peerViews(): PeerView[] {
    const self = this.network.peerId
    const out = new Map<string, PeerView>()
    const open = new Set(this.network.libp2p.getConnections().map((c) => c.remotePeer.toString()))
    for (const r of this.network.knownPeers()) {
      // a peer with no connection and no address yet (its relay reservation is pending) cannot be reached
      if (r.id === self || this.network.isRelay(r.id) || (r.addrs.length === 0 && !open.has(r.id))) continue
      out.set(r.id, { id: r.id, caps: r.caps, load: r.load, rttMs: this.network.rttOf(r.id) })
    }
    // presence() holds only what joined peers said of themselves over their own session, validated
    for (const [id, s] of this.state.presence()) {
      if (id === self || out.has(id) || !s.caps || !s.load) continue // without capabilities it offers no compute
      out.set(id, { id, caps: s.caps, load: s.load, rttMs: this.network.rttOf(id) })
    }
    return [...out.values()]
  }

  private publishPresence(): void {
    if (this.stopped) return
    const m = this.compute.status().metrics
    this.state.setPresence({
      caps: this.capabilities(),
      load: this.load(),
      metrics: { ok: m.ok, failed: m.failed, bytes: m.bytes, costUsd: m.costUsd, liars: m.liars },
    })
  }

  private emit<K extends keyof NodeEvents>(type: K, detail: NodeEvents[K]['detail']): void {
    this.safeDispatchEvent(type, { detail } as never)
  }

  private readonly onJoin = (e: CustomEvent<PeerRecord>) => this.emit('peer:join', e.detail)
  private readonly onLeave = (e: CustomEvent<{ id: string }>) => this.emit('peer:leave', e.detail)
  private readonly onChange = (e: CustomEvent<{ peer?: string; bytes: number }>) => this.emit('state:change', e.detail)
}
