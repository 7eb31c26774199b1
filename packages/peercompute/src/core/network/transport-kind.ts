import type { TransportKind } from '../wire/registry.js'

/** The transport of a connection, from its remote multiaddr and whether it is limited. */
export function transportOf(remoteAddr: string, limited: boolean): TransportKind {
  if (remoteAddr.includes('/webrtc')) return 'webrtc'
  if (limited || remoteAddr.includes('/p2p-circuit')) return 'relayed'
  if (remoteAddr.includes('/ws')) return 'websocket'
  return 'tcp'
}

/** True for a connection that does not pass through a relay. */
export function isDirect(kind: TransportKind): boolean {
  return kind !== 'relayed'
}
