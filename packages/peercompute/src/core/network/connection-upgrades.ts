import type { Connection } from '@libp2p/interface'
import type { MeshContext } from './network-types.js'
import type { RttMonitor } from './rtt-monitor.js'
import { isDirect, transportOf } from './transport-kind.js'

/**
 * Watches new connections: a direct one to a peer we reach over a relay is an
 * upgrade; the relayed connections are then retired once the streams on them
 * finish (checked every 2 s, closed after a minute at most). Every new direct
 * connection gets an RTT measurement.
 */
export class ConnectionUpgrades {
  private readonly ctx: MeshContext
  private readonly rttMonitor: RttMonitor
  private readonly timers = new Set<ReturnType<typeof setInterval>>()

  constructor(ctx: MeshContext, rttMonitor: RttMonitor) {
    this.ctx = ctx
    this.rttMonitor = rttMonitor
  }

  /** The `connection:open` listener: must not throw (libp2p dispatches it). */
  readonly onConnectionOpen = (evt: CustomEvent<Connection>): void => {
    try {
      this.opened(evt.detail)
    } catch (err) {
      this.ctx.log(`connection:open: ${(err as Error).message}`)
    }
  }

  /** Ends every retirement timer. */
  stop(): void {
    for (const t of this.timers) clearInterval(t)
    this.timers.clear()
  }

  private opened(c: Connection): void {
    const { ctx } = this
    const peer = c.remotePeer.toString()
    if (ctx.relayIds.has(peer) || ctx.isStopped()) return
    const kind = transportOf(c.remoteAddr.toString(), c.limits != null)
    if (!isDirect(kind)) return
    const relayed = ctx.libp2p
      .getConnections(c.remotePeer)
      .filter((x) => x !== c && transportOf(x.remoteAddr.toString(), x.limits != null) === 'relayed')
    if (relayed.length > 0) {
      ctx.dispatch('connection:upgrade', { peer, from: 'relayed', to: kind })
      // new streams take the direct path now; free the relay once what runs on it is done
      this.retireLater(relayed)
    }
    void this.rttMonitor.pingOnce(c.remotePeer) // never rejects
  }

  /** Closes connections once they carry no streams (checked every 2 s, for at most a minute). */
  private retireLater(conns: Connection[]): void {
    let checks = 0
    const t = setInterval(() => {
      checks++
      try {
        for (const c of conns) {
          if (c.status === 'open' && (c.streams.length === 0 || checks >= 30)) c.close().catch(() => {})
        }
      } catch (err) {
        this.ctx.log(`retiring relayed connections: ${(err as Error).message}`)
      }
      if (this.ctx.isStopped() || checks >= 30 || conns.every((c) => c.status !== 'open')) {
        clearInterval(t)
        this.timers.delete(t)
      }
    }, 2000)
    this.timers.add(t)
  }
}
