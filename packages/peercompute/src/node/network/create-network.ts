import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import type { ConnectionGater, PrivateKey } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { webRTC } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'
import { NetworkManager, type NetworkManagerInit } from '../../core/network/network-manager.js'

/** Options of a Node peer's network. */
export interface NodeNetworkInit extends Omit<NetworkManagerInit, 'libp2p'> {
  /** The peer's identity (default: a new one each start). */
  privateKey?: PrivateKey
  /** Extra listen addresses, e.g. `/ip4/127.0.0.1/tcp/0` to accept TCP from other Node peers. */
  listen?: string[]
  /**
   * WebRTC settings for node-datachannel. Tests use
   * `{ iceServers: [], bindAddress: '127.0.0.1' }`; without `iceServers`
   * libp2p's default public STUN servers are used.
   */
  rtcConfiguration?: {
    iceServers?: Array<{ urls: string | string[]; username?: string; credential?: string }>
    /** node-datachannel: the local address to gather host candidates on. */
    bindAddress?: string
  }
  /** libp2p's connection gater, e.g. to allow loopback addresses in tests. */
  connectionGater?: ConnectionGater
}

/** A NetworkManager on a Node libp2p node: TCP, WebSockets, circuit relay v2, WebRTC. */
export async function createNetworkManager(init: NodeNetworkInit): Promise<NetworkManager> {
  const libp2p = await createLibp2p({
    start: false,
    ...(init.privateKey ? { privateKey: init.privateKey } : {}),
    addresses: {
      // one generic circuit listener per relay: libp2p re-reserves these after a relay restart
      listen: [...init.relays.map(() => '/p2p-circuit'), '/webrtc', ...(init.listen ?? [])],
    },
    transports: [
      tcp(),
      webSockets(),
      circuitRelayTransport({ reservationCompletionTimeout: 10_000 }),
      webRTC(
        init.rtcConfiguration ? ({ rtcConfiguration: init.rtcConfiguration } as Parameters<typeof webRTC>[0]) : {},
      ),
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { maxConnections: (init.maxPeerConnections ?? 32) * 2 + init.relays.length + 8 },
    ...(init.connectionGater ? { connectionGater: init.connectionGater } : {}),
    services: { identify: identify() },
  })
  return new NetworkManager({ ...init, libp2p })
}
