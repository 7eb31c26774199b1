import type { TransportKind } from '../wire/registry.js'
import type { ConnectionInfo, MeshContext, NetworkStatus } from './network-types.js'
import { transportOf } from './transport-kind.js'

/** Every open connection, with its transport and the last RTT to its peer. */
export function connectionInfo(ctx: MeshContext): ConnectionInfo[] {
  return ctx.libp2p.getConnections().map((c) => {
    const peer = c.remotePeer.toString()
    return {
      peer,
      transport: transportOf(c.remoteAddr.toString(), c.limits != null),
      remoteAddr: c.remoteAddr.toString(),
      direction: c.direction,
      relay: ctx.relayIds.has(peer),
      rttMs: ctx.rtt.get(peer),
    }
  })
}

/** The network status: relays, connections with transports, peers with RTT and their best connection. */
export function networkStatus(
  ctx: MeshContext,
  relays: NetworkStatus['relays'],
  neighbors: Iterable<string>,
): NetworkStatus {
  const connections = connectionInfo(ctx)
  const byPeer = new Map<string, TransportKind>()
  for (const c of connections) {
    const prev = byPeer.get(c.peer)
    if (!prev || (prev === 'relayed' && c.transport !== 'relayed')) byPeer.set(c.peer, c.transport)
  }
  return {
    peerId: ctx.peerId,
    topology: ctx.topology,
    relays,
    connections,
    peers: ctx.directory
      .records()
      .map((p) => ({ ...p, rttMs: ctx.rtt.get(p.id), connected: byPeer.get(p.id) ?? null })),
    neighbors: [...neighbors],
  }
}
