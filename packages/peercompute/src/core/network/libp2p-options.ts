import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { ConnectionGater, PrivateKey } from '@libp2p/interface'
import type { Libp2pOptions } from 'libp2p'

/** What both platforms' mesh nodes take beyond the NetworkManager's own options. */
export interface MeshLibp2pInit {
  relays: string[]
  maxPeerConnections?: number
  /** The peer's identity (default: a new one each start). */
  privateKey?: PrivateKey
  /** libp2p's connection gater, e.g. to allow loopback relays in tests. */
  connectionGater?: ConnectionGater
}

/**
 * The libp2p settings every mesh peer shares, around the platform's own
 * transports: one generic `/p2p-circuit` listener per relay (libp2p re-reserves
 * those after a relay restart) and `/webrtc`, noise, yamux, identify.
 */
export function meshLibp2pOptions(
  init: MeshLibp2pInit,
  transports: Libp2pOptions['transports'],
  extraListen: string[] = [],
): Libp2pOptions {
  return {
    start: false,
    ...(init.privateKey ? { privateKey: init.privateKey } : {}),
    addresses: { listen: [...init.relays.map(() => '/p2p-circuit'), '/webrtc', ...extraListen] },
    transports,
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { maxConnections: (init.maxPeerConnections ?? 32) * 2 + init.relays.length + 8 },
    ...(init.connectionGater ? { connectionGater: init.connectionGater } : {}),
    services: { identify: identify() },
  }
}
