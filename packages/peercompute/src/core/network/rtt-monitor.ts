import type { Connection, PeerId } from '@libp2p/interface'
import type { MeshContext } from './network-types.js'
import { measureRtt } from './rtt.js'
import { isDirect, transportOf } from './transport-kind.js'

/** Keeps the RTT of every connected mesh peer (not relays) in `ctx.rtt`. */
export class RttMonitor {
  private readonly ctx: MeshContext

  constructor(ctx: MeshContext) {
    this.ctx = ctx
  }

  /** Measures one round trip over `conn` and records it; rejects if the echo fails. */
  async measure(conn: Connection): Promise<void> {
    this.ctx.rtt.set(conn.remotePeer.toString(), await measureRtt(conn, 5000))
  }

  /** Measures `peer` on its direct connection if there is one (the latency work will see); never rejects. */
  async pingOnce(peer: PeerId): Promise<void> {
    try {
      const conns = this.ctx.libp2p.getConnections(peer)
      const conn = conns.find((c) => isDirect(transportOf(c.remoteAddr.toString(), c.limits != null))) ?? conns[0]
      if (conn) await this.measure(conn)
    } catch {
      // the next round measures again
    }
  }

  /** Measures every connected mesh peer; never rejects. */
  async measureAll(): Promise<void> {
    try {
      const peers = new Map(this.ctx.libp2p.getConnections().map((c) => [c.remotePeer.toString(), c.remotePeer]))
      for (const id of this.ctx.relayIds) peers.delete(id)
      await Promise.all([...peers.values()].map((p) => this.pingOnce(p)))
    } catch (err) {
      this.ctx.log(`rtt: ${(err as Error).message}`)
    }
  }
}
