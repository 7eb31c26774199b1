import type { Connection, Libp2p, PeerId, StreamHandler } from '@libp2p/interface'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import { FramedStream } from '../wire/framed-stream.js'
import {
  type Capabilities,
  decodeRegistryMessage,
  encodeRegistryMessage,
  type Load,
  type PeerRecord,
  REGISTRY_MAX_FRAME,
  REGISTRY_PROTOCOL,
  type RegistryMessage,
  type TransportKind,
} from '../wire/registry.js'
import { Backoff, type BackoffInit } from './backoff.js'
import { measureRtt, RTT_PROTOCOL, rttHandler } from './rtt.js'
import { chooseNeighbors, type Topology } from './topology.js'
import { isDirect, transportOf } from './transport-kind.js'

/** Events of a NetworkManager. */
export interface NetworkEvents {
  /** A peer appeared in a relay's registry. */
  'peer:join': CustomEvent<PeerRecord>
  /** A known peer announced new addresses, capabilities or load. */
  'peer:update': CustomEvent<PeerRecord>
  /** No relay lists the peer any more (it left, died or missed its heartbeats). */
  'peer:leave': CustomEvent<{ id: string }>
  /** A peer reached over a relay is now connected directly. */
  'connection:upgrade': CustomEvent<{ peer: string; from: TransportKind; to: TransportKind }>
  'relay:connect': CustomEvent<{ relay: string }>
  'relay:disconnect': CustomEvent<{ relay: string }>
}

/** Options of a NetworkManager. */
export interface NetworkManagerInit {
  /** A libp2p node (not started) with the circuit relay transport, listening on `/p2p-circuit` once per relay. */
  libp2p: Libp2p
  /** Relay multiaddrs, each ending in `/p2p/<relay id>`. */
  relays: string[]
  topology?: Topology
  /** Most direct peer connections (default 32). */
  maxPeerConnections?: number
  /** hierarchy: children per peer (default 4). */
  children?: number
  /** emergent: lowest-latency peers to keep (default 4). */
  k?: number
  /** What this peer offers, as announced (read at each announcement). */
  capabilities: () => Capabilities
  /** How busy this peer is (read at each heartbeat). */
  load?: () => Load
  /** Default 5,000 ms. */
  heartbeatMs?: number
  /** RTT measurement interval (default 10,000 ms). */
  pingIntervalMs?: number
  /** Re-connection back-off to relays (default 500 ms doubling to 30 s, with jitter). */
  relayBackoff?: BackoffInit
  /** Back-off of direct-connection upgrade attempts (default 1 s doubling to 60 s). */
  upgradeBackoff?: BackoffInit
  /** How long after connecting to a relay its reservation must show up (default 5,000 ms). */
  reservationTimeoutMs?: number
  log?: (line: string) => void
}

interface RelayState {
  addr: Multiaddr
  id: string
  peerId: PeerId
  backoff: Backoff
  timer?: ReturnType<typeof setTimeout>
  connected: boolean
  connecting: boolean
  registry?: FramedStream<RegistryMessage>
  registered: boolean
  /** Peers this relay lists. */
  members: Set<string>
  /** Peers (re)listed since the last subscribe: after a relay restart, the rest are stale. */
  fresh: Set<string>
  pruneTimer?: ReturnType<typeof setTimeout>
  watchTimer?: ReturnType<typeof setTimeout>
}

interface PeerLinkState {
  backoff: Backoff
  timer?: ReturnType<typeof setTimeout>
  inflight: boolean
}

/** A connection as `getStatus()` reports it. */
export interface ConnectionInfo {
  peer: string
  transport: TransportKind
  remoteAddr: string
  direction: 'inbound' | 'outbound'
  relay: boolean
  rttMs?: number
}

/** The network part of a node's status. */
export interface NetworkStatus {
  peerId: string
  topology: Topology
  relays: Array<{ id: string; connected: boolean; reserved: boolean; registered: boolean }>
  connections: ConnectionInfo[]
  peers: Array<PeerRecord & { rttMs?: number; connected: TransportKind | null }>
  neighbors: string[]
}

const codec = { encode: encodeRegistryMessage, decode: decodeRegistryMessage, maxFrame: REGISTRY_MAX_FRAME }

/**
 * One libp2p node in the mesh: keeps reservations on every relay, registers
 * and heartbeats with each, learns of peers from them, connects to the peers
 * its topology chooses (WebRTC through their circuit addresses, or TCP between
 * Node peers; relayed until the upgrade works), measures RTT, and repairs all
 * of this by itself with back-off after a relay restart or a dropped connection.
 */
export class NetworkManager extends TypedEventEmitter<NetworkEvents> {
  readonly libp2p: Libp2p
  readonly topology: Topology
  private readonly init: NetworkManagerInit
  private readonly relays: RelayState[]
  private readonly relayIds: ReadonlySet<string>
  private readonly records = new Map<string, PeerRecord>()
  private readonly rtt = new Map<string, number>()
  private readonly links = new Map<string, PeerLinkState>()
  /** Peers whose connection we opened for the topology (we may close those). */
  private readonly dialed = new Set<string>()
  private neighbors = new Set<string>()
  private timers: Array<ReturnType<typeof setInterval>> = []
  private announceTimer?: ReturnType<typeof setTimeout>
  private reconcileTimer?: ReturnType<typeof setTimeout>
  private started = false
  private stopped = false

  constructor(init: NetworkManagerInit) {
    super()
    this.init = init
    this.libp2p = init.libp2p
    this.topology = init.topology ?? 'distributed'
    this.relays = init.relays.map((a) => {
      const addr = multiaddr(a)
      const id = addr.getComponents().findLast((c) => c.name === 'p2p')?.value
      if (!id) throw new TypeError(`relay address ${a} does not end in /p2p/<peer id>`)
      return {
        addr,
        id,
        peerId: undefined as unknown as PeerId,
        backoff: new Backoff(init.relayBackoff),
        connected: false,
        connecting: false,
        registered: false,
        members: new Set(),
        fresh: new Set(),
      }
    })
    this.relayIds = new Set(this.relays.map((r) => r.id))
  }

  /** True if `peer` is one of the configured relays (not a mesh peer). */
  isRelay(peer: string): boolean {
    return this.relayIds.has(peer)
  }

  get peerId(): string {
    return this.libp2p.peerId.toString()
  }

  /** Starts libp2p and begins joining the mesh through every relay. */
  async start(): Promise<void> {
    if (this.started) return
    this.started = true
    await this.libp2p.start()
    await this.libp2p.handle(RTT_PROTOCOL, rttHandler, { runOnLimitedConnection: true, maxInboundStreams: 4 })
    this.libp2p.addEventListener('peer:disconnect', this.onPeerDisconnect)
    this.libp2p.addEventListener('connection:open', this.onConnectionOpen)
    this.libp2p.addEventListener('self:peer:update', this.onSelfUpdate)
    this.timers.push(setInterval(() => this.heartbeat(), this.init.heartbeatMs ?? 5000))
    this.timers.push(setInterval(() => void this.measureRtt(), this.init.pingIntervalMs ?? 10_000))
    this.timers.push(setInterval(() => this.reconcile(), 5000))
    for (const r of this.relays) void this.connectRelay(r)
  }

  /** Closes every stream and connection and stops libp2p; all timers end. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    for (const t of this.timers) clearInterval(t)
    clearTimeout(this.announceTimer)
    clearTimeout(this.reconcileTimer)
    for (const r of this.relays) {
      clearTimeout(r.timer)
      clearTimeout(r.pruneTimer)
      clearTimeout(r.watchTimer)
      await r.registry?.close()
    }
    for (const l of this.links.values()) clearTimeout(l.timer)
    this.libp2p.removeEventListener('peer:disconnect', this.onPeerDisconnect)
    this.libp2p.removeEventListener('connection:open', this.onConnectionOpen)
    this.libp2p.removeEventListener('self:peer:update', this.onSelfUpdate)
    if (this.started) await this.libp2p.stop()
  }

  /** Peers known from the registries. */
  knownPeers(): PeerRecord[] {
    return [...this.records.values()]
  }

  /** The last RTT measured to `peer`, ms. */
  rttOf(peer: string): number | undefined {
    return this.rtt.get(peer)
  }

  /** Serves `protocol` on every connection, relayed ones included. */
  async handle(protocol: string, handler: StreamHandler, opts: { maxInboundStreams?: number } = {}): Promise<void> {
    await this.libp2p.handle(protocol, handler, { runOnLimitedConnection: true, ...opts })
  }

  /**
   * Opens a stream to `peer`: on an open direct connection if there is one, else
   * on a relayed one, else on a new connection through its announced addresses.
   */
  async dialProtocol(peer: string, protocol: string, opts: { signal?: AbortSignal } = {}) {
    const rank = (c: Connection) => (isDirect(transportOf(c.remoteAddr.toString(), c.limits != null)) ? 0 : 1)
    let lastErr: unknown
    // connections come and go (a relayed one retired after an upgrade): look again between tries
    for (let attempt = 0; attempt < 3; attempt++) {
      const open = this.libp2p
        .getConnections()
        .filter((c) => c.remotePeer.toString() === peer && c.status === 'open')
        .sort((a, b) => rank(a) - rank(b))
      if (open.length === 0) break
      for (const c of open) {
        try {
          return await c.newStream(protocol, { signal: opts.signal, runOnLimitedConnection: true })
        } catch (err) {
          if (opts.signal?.aborted) throw err
          lastErr = err
        }
      }
      await new Promise<void>((r) => setTimeout(() => r(), 100 * (attempt + 1)))
    }
    if (lastErr)
      this.init.log?.(`dialProtocol ${peer}: existing connections failed (${(lastErr as Error).message}); dialling`)
    const rec = this.records.get(peer)
    const addrs = rec ? rec.addrs.map((a) => multiaddr(a)) : []
    const target = addrs.find((a) => !a.toString().includes('/webrtc')) ?? addrs[0]
    if (!target) throw new Error(`no open connection to ${peer} and no address known for it`)
    return this.libp2p.dialProtocol(target, protocol, { signal: opts.signal, runOnLimitedConnection: true })
  }

  /** The network status: relays, connections with transports, peers with RTT. */
  getStatus(): NetworkStatus {
    const connections = this.connectionInfo()
    const byPeer = new Map<string, TransportKind>()
    for (const c of connections) {
      const prev = byPeer.get(c.peer)
      if (!prev || (prev === 'relayed' && c.transport !== 'relayed')) byPeer.set(c.peer, c.transport)
    }
    const addrs = this.libp2p.getMultiaddrs().map(String)
    return {
      peerId: this.peerId,
      topology: this.topology,
      relays: this.relays.map((r) => ({
        id: r.id,
        connected: r.connected,
        reserved: addrs.some((a) => a.includes(`/p2p/${r.id}/p2p-circuit`)),
        registered: r.registered,
      })),
      connections,
      peers: this.knownPeers().map((p) => ({ ...p, rttMs: this.rtt.get(p.id), connected: byPeer.get(p.id) ?? null })),
      neighbors: [...this.neighbors],
    }
  }

  private connectionInfo(): ConnectionInfo[] {
    return this.libp2p.getConnections().map((c) => {
      const peer = c.remotePeer.toString()
      return {
        peer,
        transport: transportOf(c.remoteAddr.toString(), c.limits != null),
        remoteAddr: c.remoteAddr.toString(),
        direction: c.direction,
        relay: this.relayIds.has(peer),
        rttMs: this.rtt.get(peer),
      }
    })
  }

  // ---- relays -------------------------------------------------------------

  private async connectRelay(r: RelayState): Promise<void> {
    if (this.stopped || r.connecting) return
    r.connecting = true
    try {
      const conn = await this.libp2p.dial(r.addr, { signal: AbortSignal.timeout(10_000) })
      r.peerId = conn.remotePeer
      r.connected = true
      this.safeDispatch('relay:connect', { relay: r.id })
      await this.openRegistry(r)
      this.watchReservation(r)
    } catch (err) {
      this.init.log?.(`relay ${r.id}: ${(err as Error).message}`)
      r.connected = this.libp2p.getConnections().some((c) => c.remotePeer.toString() === r.id)
      if (!r.connected) this.scheduleRelay(r)
    } finally {
      r.connecting = false
    }
  }

  private scheduleRelay(r: RelayState): void {
    if (this.stopped || r.timer) return
    const delay = r.backoff.next()
    r.timer = setTimeout(() => {
      r.timer = undefined
      void this.connectRelay(r)
    }, delay)
  }

  /** libp2p may not re-reserve after a relay restart: if no reservation shows up, reconnect. */
  private watchReservation(r: RelayState): void {
    const timeout = this.init.reservationTimeoutMs ?? 5000
    clearTimeout(r.watchTimer)
    r.watchTimer = setTimeout(() => {
      if (this.stopped || !r.connected) return
      const reserved = this.libp2p.getMultiaddrs().some((a) => a.toString().includes(`/p2p/${r.id}/p2p-circuit`))
      if (reserved) {
        r.backoff.reset()
        return
      }
      this.init.log?.(`relay ${r.id}: no reservation after ${timeout} ms; reconnecting`)
      void this.libp2p.hangUp(r.peerId).catch(() => {})
    }, timeout)
  }

  private readonly onPeerDisconnect = (evt: CustomEvent<PeerId>) => {
    const id = evt.detail.toString()
    const r = this.relays.find((x) => x.id === id)
    if (r) {
      r.connected = false
      r.registered = false
      void r.registry?.close()
      r.registry = undefined
      this.safeDispatch('relay:disconnect', { relay: r.id })
      this.scheduleRelay(r)
      return
    }
    this.dialed.delete(id)
    this.rtt.delete(id)
    this.scheduleReconcile()
  }

  private async openRegistry(r: RelayState): Promise<void> {
    const stream = await this.libp2p.dialProtocol(r.peerId, REGISTRY_PROTOCOL, { signal: AbortSignal.timeout(10_000) })
    const framed: FramedStream<RegistryMessage> = new FramedStream(stream, codec, {
      onMessage: (m) => this.onRegistryMessage(r, m),
      onClose: (err) => {
        if (r.registry !== framed) return
        r.registry = undefined
        r.registered = false
        if (err) this.init.log?.(`relay ${r.id}: registry stream failed: ${err.message}`)
        // a registry stream lost on a live connection: start over on a fresh connection
        if (!this.stopped && r.connected) void this.libp2p.hangUp(r.peerId).catch(() => {})
      },
    })
    r.registry = framed
    r.fresh = new Set()
    await framed.send(this.announcement())
    await framed.send({ type: 'subscribe' })
    // peers listed before a restart and not listed again after it are gone
    clearTimeout(r.pruneTimer)
    r.pruneTimer = setTimeout(() => {
      for (const id of [...r.members]) if (!r.fresh.has(id)) this.removeMember(r, id)
    }, 3000)
  }

  private announcement(): RegistryMessage {
    return {
      type: 'announce',
      addrs: this.libp2p.getMultiaddrs().map(String).slice(0, 32),
      caps: this.init.capabilities(),
      load: this.init.load?.() ?? { running: 0, queued: 0 },
    }
  }

  /** Tells every relay this peer's addresses, capabilities and load now (e.g. after a new kernel). */
  announce(): void {
    if (!this.started || this.stopped) return
    for (const r of this.relays) void r.registry?.send(this.announcement()).catch(() => {})
  }

  private readonly onSelfUpdate = () => {
    // reservations came or went: re-announce our addresses, once things settle
    clearTimeout(this.announceTimer)
    this.announceTimer = setTimeout(() => {
      for (const r of this.relays) void r.registry?.send(this.announcement()).catch(() => {})
    }, 200)
  }

  private heartbeat(): void {
    const load = this.init.load?.() ?? { running: 0, queued: 0 }
    const links = this.connectionInfo()
      .filter((c) => !c.relay)
      .slice(0, 256)
      .map((c) => ({ peer: c.peer, transport: c.transport, ...(c.rttMs !== undefined ? { rttMs: c.rttMs } : {}) }))
    for (const r of this.relays) {
      if (!r.registry) continue
      void r.registry.send({ type: 'heartbeat', load }).catch(() => {})
      void r.registry.send({ type: 'mesh', links }).catch(() => {})
    }
  }

  private onRegistryMessage(r: RelayState, m: RegistryMessage): void {
    switch (m.type) {
      case 'join':
      case 'update': {
        if (m.peer.id === this.peerId) {
          r.registered = true
          return
        }
        r.members.add(m.peer.id)
        r.fresh.add(m.peer.id)
        const known = this.records.has(m.peer.id)
        this.records.set(m.peer.id, m.peer)
        this.safeDispatch(known ? 'peer:update' : 'peer:join', m.peer)
        this.scheduleReconcile()
        return
      }
      case 'leave':
        if (m.id !== this.peerId) this.removeMember(r, m.id)
        return
      case 'error':
        this.init.log?.(`relay ${r.id}: registry error ${m.code}: ${m.message}`)
        return
      default:
        return
    }
  }

  private removeMember(r: RelayState, id: string): void {
    r.members.delete(id)
    if (this.relays.some((x) => x.members.has(id))) return
    if (!this.records.delete(id)) return
    this.rtt.delete(id)
    this.safeDispatch('peer:leave', { id })
    this.scheduleReconcile()
  }

  // ---- peers --------------------------------------------------------------

  private scheduleReconcile(): void {
    clearTimeout(this.reconcileTimer)
    this.reconcileTimer = setTimeout(() => this.reconcile(), 50)
  }

  private reconcile(): void {
    if (this.stopped) return
    const choice = chooseNeighbors({
      self: this.peerId,
      peers: [...this.records.keys()],
      topology: this.topology,
      maxConnections: this.init.maxPeerConnections ?? 32,
      children: this.init.children ?? 4,
      k: this.init.k ?? 4,
      rttMs: this.rtt,
    })
    this.neighbors = choice.neighbors
    for (const p of choice.dial) void this.ensureDirect(p)
    // emergent: measure peers we have no RTT for, a few at a time
    if (this.topology === 'emergent') {
      const unmeasured = [...this.records.keys()].filter((p) => !this.rtt.has(p)).slice(0, 2)
      for (const p of unmeasured) void this.probe(p)
    }
    // drop connections we opened for peers the topology no longer wants
    for (const p of [...this.dialed]) {
      if (!choice.neighbors.has(p)) {
        this.dialed.delete(p)
        const conn = this.libp2p.getConnections().find((c) => c.remotePeer.toString() === p)
        if (conn) void this.libp2p.hangUp(conn.remotePeer).catch(() => {})
      }
    }
  }

  private hasDirect(peer: string): boolean {
    return this.connectionInfo().some((c) => c.peer === peer && isDirect(c.transport))
  }

  /** Connects to `peer` directly (WebRTC, else TCP); on failure keeps or makes a relayed connection and retries later. */
  private async ensureDirect(peer: string): Promise<void> {
    let st = this.links.get(peer)
    if (!st) {
      st = { backoff: new Backoff({ initialMs: 1000, maxMs: 60_000, ...this.init.upgradeBackoff }), inflight: false }
      this.links.set(peer, st)
    }
    if (st.inflight || st.timer || this.hasDirect(peer) || this.stopped) return
    const rec = this.records.get(peer)
    if (!rec) return
    st.inflight = true
    try {
      const addrs = rec.addrs.map((a) => multiaddr(a))
      const direct = [
        ...addrs.filter((a) => a.toString().includes('/webrtc')),
        ...addrs.filter(
          (a) =>
            !a.toString().includes('/p2p-circuit') && a.toString().includes('/tcp/') && !a.toString().includes('/ws'),
        ),
      ]
      for (const a of direct) {
        try {
          await this.libp2p.dial(a, { signal: AbortSignal.timeout(15_000) })
          if (this.hasDirect(peer)) {
            this.dialed.add(peer)
            st.backoff.reset()
            return
          }
        } catch (err) {
          this.init.log?.(`direct dial ${peer} via ${a}: ${(err as Error).message}`)
        }
      }
      // no direct path yet: stay reachable over a relay, try the upgrade again later
      const relayed = addrs.find((a) => a.toString().includes('/p2p-circuit') && !a.toString().includes('/webrtc'))
      if (relayed && !this.libp2p.getConnections().some((c) => c.remotePeer.toString() === peer)) {
        await this.libp2p.dial(relayed, { signal: AbortSignal.timeout(15_000) }).then(
          () => this.dialed.add(peer),
          () => {},
        )
      }
      const delay = st.backoff.next()
      st.timer = setTimeout(() => {
        if (st) st.timer = undefined
        if (this.neighbors.has(peer)) void this.ensureDirect(peer)
      }, delay)
    } finally {
      st.inflight = false
    }
  }

  /** emergent: a relayed connection, one ping, then let the topology decide. */
  private async probe(peer: string): Promise<void> {
    const rec = this.records.get(peer)
    const addr = rec?.addrs
      .map((a) => multiaddr(a))
      .find((a) => a.toString().includes('/p2p-circuit') && !a.toString().includes('/webrtc'))
    if (!addr) return
    try {
      const conn = await this.libp2p.dial(addr, { signal: AbortSignal.timeout(10_000) })
      this.rtt.set(peer, await measureRtt(conn, 5000))
      this.dialed.add(peer)
      this.scheduleReconcile()
    } catch (err) {
      this.init.log?.(`probe ${peer}: ${(err as Error).message}`)
    }
  }

  private readonly onConnectionOpen = (evt: CustomEvent<Connection>) => {
    const c = evt.detail
    const peer = c.remotePeer.toString()
    if (this.relayIds.has(peer)) return
    const kind = transportOf(c.remoteAddr.toString(), c.limits != null)
    if (!isDirect(kind)) return
    const relayed = this.libp2p
      .getConnections(c.remotePeer)
      .filter((x) => x !== c && transportOf(x.remoteAddr.toString(), x.limits != null) === 'relayed')
    if (relayed.length > 0) {
      this.safeDispatch('connection:upgrade', { peer, from: 'relayed', to: kind })
      // new streams take the direct path now; free the relay once what runs on it is done
      this.retireLater(relayed)
    }
    void this.pingOnce(c.remotePeer)
  }

  /** Closes connections once they carry no streams (checked every 2 s, for at most a minute). */
  private retireLater(conns: Connection[]): void {
    let checks = 0
    const t = setInterval(() => {
      checks++
      for (const c of conns) {
        if (c.status === 'open' && (c.streams.length === 0 || checks >= 30)) void c.close().catch(() => {})
      }
      if (this.stopped || checks >= 30 || conns.every((c) => c.status !== 'open')) {
        clearInterval(t)
        this.timers = this.timers.filter((x) => x !== t)
      }
    }, 2000)
    this.timers.push(t)
  }

  private async pingOnce(peer: PeerId): Promise<void> {
    const conns = this.libp2p.getConnections(peer)
    // the direct path if there is one: that is the latency the work will see
    const conn = conns.find((c) => isDirect(transportOf(c.remoteAddr.toString(), c.limits != null))) ?? conns[0]
    if (!conn) return
    try {
      this.rtt.set(peer.toString(), await measureRtt(conn, 5000))
    } catch {
      // the next round measures again
    }
  }

  private async measureRtt(): Promise<void> {
    const peers = new Map(this.libp2p.getConnections().map((c) => [c.remotePeer.toString(), c.remotePeer]))
    for (const id of this.relayIds) peers.delete(id)
    await Promise.all([...peers.values()].map((p) => this.pingOnce(p)))
  }

  private safeDispatch<K extends keyof NetworkEvents>(type: K, detail: NetworkEvents[K]['detail']): void {
    if (!this.stopped) this.safeDispatchEvent(type, { detail })
  }
}
