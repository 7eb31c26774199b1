import { Backoff } from './backoff.js'
import type { MeshContext } from './network-types.js'
import type { RttMonitor } from './rtt-monitor.js'
import { connectionInfo } from './status.js'
import { chooseNeighbors } from './topology.js'
import { isDirect } from './transport-kind.js'

interface PeerLinkState {
  backoff: Backoff
  timer?: ReturnType<typeof setTimeout>
  inflight: boolean
}

/**
 * The connections the topology wants: dials the peers it chooses (directly if
 * it can: WebRTC, else TCP; relayed until an upgrade works, retried with
 * back-off), probes RTTs for `emergent`, and closes what it opened for peers
 * the topology no longer wants. Dials only addresses from the directory, which
 * holds only what the dial policy allows.
 */
export class DirectLinks {
  private readonly ctx: MeshContext
  private readonly rttMonitor: RttMonitor
  private readonly links = new Map<string, PeerLinkState>()
  /** Peers whose connection we opened for the topology (we may close those). */
  private readonly dialed = new Set<string>()
  private neighborSet = new Set<string>()

  constructor(ctx: MeshContext, rttMonitor: RttMonitor) {
    this.ctx = ctx
    this.rttMonitor = rttMonitor
  }

  /** The peers the topology chose last. */
  get neighbors(): ReadonlySet<string> {
    return this.neighborSet
  }

  /** Ends every retry timer. */
  stop(): void {
    for (const l of this.links.values()) clearTimeout(l.timer)
    this.links.clear()
  }

  /** A peer disconnected: whatever we opened to it is gone. */
  onDisconnect(id: string): void {
    this.dialed.delete(id)
  }

  /** A peer left the registries: forget its retry state. */
  forget(id: string): void {
    const st = this.links.get(id)
    if (st) clearTimeout(st.timer)
    this.links.delete(id)
  }

  /** Re-runs the topology: dials what it wants, drops what it no longer wants. */
  reconcile(): void {
    const { ctx } = this
    if (ctx.isStopped()) return
    const peers = ctx.directory.ids()
    const choice = chooseNeighbors({
      self: ctx.peerId,
      peers,
      topology: ctx.topology,
      maxConnections: ctx.init.maxPeerConnections ?? 32,
      children: ctx.init.children ?? 4,
      k: ctx.init.k ?? 4,
      rttMs: ctx.rtt,
    })
    this.neighborSet = choice.neighbors
    for (const p of choice.dial) this.inBackground('direct', p, this.ensureDirect(p))
    // emergent: measure peers we have no RTT for, a few at a time
    if (ctx.topology === 'emergent') {
      const unmeasured = peers.filter((p) => !ctx.rtt.has(p)).slice(0, 2)
      for (const p of unmeasured) this.inBackground('probe', p, this.probe(p))
    }
    // drop connections we opened for peers the topology no longer wants
    for (const p of [...this.dialed]) {
      if (!choice.neighbors.has(p)) {
        this.dialed.delete(p)
        const conn = ctx.libp2p.getConnections().find((c) => c.remotePeer.toString() === p)
        if (conn) ctx.libp2p.hangUp(conn.remotePeer).catch(() => {})
      }
    }
    for (const id of this.links.keys()) if (!ctx.directory.has(id)) this.forget(id)
  }

  private inBackground(what: string, peer: string, p: Promise<void>): void {
    p.catch((err) => this.ctx.log(`${what} ${peer}: ${(err as Error).message}`))
  }

  private hasDirect(peer: string): boolean {
    return connectionInfo(this.ctx).some((c) => c.peer === peer && isDirect(c.transport))
  }

  /** Connects to `peer` directly (WebRTC, else TCP); on failure keeps or makes a relayed connection and retries later. */
  private async ensureDirect(peer: string): Promise<void> {
    const { ctx } = this
    let st = this.links.get(peer)
    if (!st) {
      st = { backoff: new Backoff({ initialMs: 1000, maxMs: 60_000, ...ctx.init.upgradeBackoff }), inflight: false }
      this.links.set(peer, st)
    }
    if (st.inflight || st.timer || this.hasDirect(peer) || ctx.isStopped()) return
    if (!ctx.directory.has(peer)) return
    st.inflight = true
    try {
      for (const a of ctx.directory.directAddrs(peer)) {
        try {
          await ctx.libp2p.dial(a, { signal: AbortSignal.timeout(15_000) })
          if (this.hasDirect(peer)) {
            this.dialed.add(peer)
            st.backoff.reset()
            return
          }
        } catch (err) {
          ctx.log(`direct dial ${peer} via ${a}: ${(err as Error).message}`)
        }
        if (ctx.isStopped()) return
      }
      // no direct path yet: stay reachable over a relay, try the upgrade again later
      const relayed = ctx.directory.relayedAddr(peer)
      if (relayed && !ctx.libp2p.getConnections().some((c) => c.remotePeer.toString() === peer)) {
        await ctx.libp2p.dial(relayed, { signal: AbortSignal.timeout(15_000) }).then(
          () => this.dialed.add(peer),
          () => {},
        )
      }
      if (ctx.isStopped()) return
      const state = st
      state.timer = setTimeout(() => {
        state.timer = undefined
        if (this.neighborSet.has(peer)) this.inBackground('direct', peer, this.ensureDirect(peer))
      }, state.backoff.next())
    } finally {
      st.inflight = false
    }
  }

  /** emergent: a relayed connection, one ping, then let the topology decide. */
  private async probe(peer: string): Promise<void> {
    const addr = this.ctx.directory.relayedAddr(peer)
    if (!addr) return
    try {
      const conn = await this.ctx.libp2p.dial(addr, { signal: AbortSignal.timeout(10_000) })
      await this.rttMonitor.measure(conn)
      this.dialed.add(peer)
      this.ctx.scheduleReconcile()
    } catch (err) {
      this.ctx.log(`probe ${peer}: ${(err as Error).message}`)
    }
  }
}
