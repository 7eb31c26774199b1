import type { Connection, Libp2p, PeerId, StreamHandler } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'
import type { PeerRecord } from '../wire/registry.js'
import { ConnectionUpgrades } from './connection-upgrades.js'
import { DialRules } from './dial-policy.js'
import { DirectLinks } from './direct-links.js'
import type { MeshContext, NetworkEvents, NetworkManagerInit, NetworkStatus } from './network-types.js'
import { PeerDirectory } from './peer-directory.js'
import { parseRelays, RelaySessions } from './relay-sessions.js'
import { RTT_PROTOCOL, rttHandler } from './rtt.js'
import { RttMonitor } from './rtt-monitor.js'
import { connectionInfo, networkStatus } from './status.js'
import type { Topology } from './topology.js'
import { isDirect, transportOf } from './transport-kind.js'
import { closeConnectionOnTrickle, newGuardedStream } from './trickle-guard.js'

export type { ConnectionInfo, NetworkEvents, NetworkManagerInit, NetworkStatus } from './network-types.js'

/**
 * One libp2p node in the mesh: keeps reservations on every relay, registers
 * and heartbeats with each, learns of peers from them, connects to the peers
 * its topology chooses (WebRTC through their circuit addresses, or TCP between
 * Node peers; relayed until the upgrade works), measures RTT, and repairs all
 * of this by itself with back-off after a relay restart or a dropped connection.
 * It dials only addresses its dial policy allows (`dialRules`).
 */
export class NetworkManager extends TypedEventEmitter<NetworkEvents> {
  readonly libp2p: Libp2p
  readonly topology: Topology
  private readonly init: NetworkManagerInit
  private readonly ctx: MeshContext
  private readonly relayIds: ReadonlySet<string>
  private readonly directory: PeerDirectory
  private readonly rtt = new Map<string, number>()
  private readonly relays: RelaySessions
  private readonly links: DirectLinks
  private readonly rttMonitor: RttMonitor
  private readonly upgrades: ConnectionUpgrades
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
    const relays = parseRelays(init.relays)
    this.relayIds = new Set(relays.map((r) => r.id))
    this.directory = new PeerDirectory(init.dialRules ?? new DialRules(undefined, init.relays))
    this.ctx = {
      libp2p: this.libp2p,
      init,
      topology: this.topology,
      relayIds: this.relayIds,
      directory: this.directory,
      rtt: this.rtt,
      get peerId() {
        return init.libp2p.peerId.toString()
      },
      isStopped: () => this.stopped,
      log: (line) => this.log(line),
      dispatch: (type, detail) => {
        if (!this.stopped) this.safeDispatchEvent(type, { detail })
      },
      scheduleReconcile: () => this.scheduleReconcile(),
    }
    this.relays = new RelaySessions(this.ctx, relays)
    this.rttMonitor = new RttMonitor(this.ctx)
    this.links = new DirectLinks(this.ctx, this.rttMonitor)
    this.upgrades = new ConnectionUpgrades(this.ctx, this.rttMonitor)
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
    this.libp2p.addEventListener('connection:open', this.upgrades.onConnectionOpen)
    this.libp2p.addEventListener('self:peer:update', this.onSelfUpdate)
    // timer callbacks must not throw: each is guarded, and measureAll never rejects
    this.timers.push(setInterval(() => this.guard('heartbeat', this.heartbeat), this.init.heartbeatMs ?? 5000))
    this.timers.push(setInterval(() => void this.rttMonitor.measureAll(), this.init.pingIntervalMs ?? 10_000))
    this.timers.push(setInterval(() => this.guard('reconcile', this.reconcile), 5000))
    this.relays.start()
  }

  /** Closes every stream and connection and stops libp2p; all timers end. */
  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    for (const t of this.timers) clearInterval(t)
    clearTimeout(this.announceTimer)
    clearTimeout(this.reconcileTimer)
    await this.relays.stop()
    this.links.stop()
    this.upgrades.stop()
    this.libp2p.removeEventListener('peer:disconnect', this.onPeerDisconnect)
    this.libp2p.removeEventListener('connection:open', this.upgrades.onConnectionOpen)
    this.libp2p.removeEventListener('self:peer:update', this.onSelfUpdate)
    if (this.started) await this.libp2p.stop()
  }

  /** Peers known from the registries. */
  knownPeers(): PeerRecord[] {
    return this.directory.records()
  }

  /** The last RTT measured to `peer`, ms. */
  rttOf(peer: string): number | undefined {
    return this.rtt.get(peer)
  }

  /**
   * Serves `protocol` on every connection, relayed ones included. A stream
   * reset for a trickled frame closes its connection (closeConnectionOnTrickle).
   */
  async handle(protocol: string, handler: StreamHandler, opts: { maxInboundStreams?: number } = {}): Promise<void> {
    const guarded: StreamHandler = (stream, conn) => {
      closeConnectionOnTrickle(stream, conn, (l) => this.log(l))
      return handler(stream, conn)
    }
    await this.libp2p.handle(protocol, guarded, { runOnLimitedConnection: true, ...opts })
  }

  /**
   * Opens a stream to `peer`: on an open direct connection if there is one, else
   * on a relayed one, else on a new connection through an announced address
   * that the dial policy allows.
   */
  async dialProtocol(peer: string, protocol: string, opts: { signal?: AbortSignal } = {}) {
    const rank = (c: Connection) => (isDirect(transportOf(c.remoteAddr.toString(), c.limits != null)) ? 0 : 1)
    const streamOpts = { signal: opts.signal, runOnLimitedConnection: true }
    const log = (l: string) => this.log(l)
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
          return await newGuardedStream(c, protocol, streamOpts, log)
        } catch (err) {
          if (opts.signal?.aborted) throw err
          lastErr = err
        }
      }
      await new Promise<void>((r) => setTimeout(() => r(), 100 * (attempt + 1)))
    }
    if (lastErr) this.log(`dialProtocol ${peer}: existing connections failed (${(lastErr as Error).message}); dialling`)
    const target = this.directory.dialAddr(peer)
    if (!target) throw new Error(`no open connection to ${peer} and no dialable address known for it`)
    return newGuardedStream(await this.libp2p.dial(target, { signal: opts.signal }), protocol, streamOpts, log)
  }

  /** The network status: relays, connections with transports, peers with RTT. */
  getStatus(): NetworkStatus {
    return networkStatus(this.ctx, this.relays.status(), this.links.neighbors)
  }

  /** Tells every relay this peer's addresses, capabilities and load now (e.g. after a new kernel). */
  announce(): void {
    if (!this.started || this.stopped) return
    this.relays.announce()
  }

  private log(line: string): void {
    try {
      this.init.log?.(line)
    } catch {
      // a failing logger must not take the network down
    }
  }

  /** libp2p's `peer:disconnect` listener: must not throw (libp2p dispatches it). */
  private readonly onPeerDisconnect = (evt: CustomEvent<PeerId>) => {
    try {
      const id = evt.detail.toString()
      if (this.relays.onDisconnect(id)) return
      this.links.onDisconnect(id)
      this.rtt.delete(id)
      this.scheduleReconcile()
    } catch (err) {
      this.log(`peer:disconnect: ${(err as Error).message}`)
    }
  }

  private readonly onSelfUpdate = () => {
    // reservations came or went: re-announce our addresses, once things settle
    clearTimeout(this.announceTimer)
    this.announceTimer = setTimeout(() => this.announce(), 200)
  }

  private readonly heartbeat = () => this.relays.heartbeat(connectionInfo(this.ctx))
  private readonly reconcile = () => this.links.reconcile()

  private guard(what: string, fn: () => void): void {
    try {
      fn()
    } catch (err) {
      this.log(`${what}: ${(err as Error).message}`)
    }
  }

  private scheduleReconcile(): void {
    if (this.stopped) return
    clearTimeout(this.reconcileTimer)
    this.reconcileTimer = setTimeout(() => this.guard('reconcile', this.reconcile), 50)
  }
}
