import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import type { ConnectionGater, PrivateKey } from '@libp2p/interface'
import { webRTC } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'
import { NetworkManager, type NetworkManagerInit } from '../core/network/network-manager.js'

/** Options of a browser peer's network. */
export interface BrowserNetworkInit extends Omit<NetworkManagerInit, 'libp2p'> {
  privateKey?: PrivateKey
  /** WebRTC settings; without `iceServers`, libp2p's default public STUN servers are used. */
  rtcConfiguration?: RTCConfiguration
  /**
   * libp2p's connection gater. Browsers refuse `ws://` and loopback relays by
   * default; a page talking to a relay on localhost passes
   * `{ denyDialMultiaddr: async () => false }`.
   */
  connectionGater?: ConnectionGater
}

/** A NetworkManager in a page: WebSockets to relays, circuit relay v2, WebRTC between browsers. */
export async function createNetworkManager(init: BrowserNetworkInit): Promise<NetworkManager> {
  const libp2p = await createLibp2p({
    start: false,
    ...(init.privateKey ? { privateKey: init.privateKey } : {}),
    addresses: { listen: [...init.relays.map(() => '/p2p-circuit'), '/webrtc'] },
    transports: [
      webSockets(),
      circuitRelayTransport({ reservationCompletionTimeout: 10_000 }),
      webRTC(init.rtcConfiguration ? { rtcConfiguration: init.rtcConfiguration } : {}),
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { maxConnections: (init.maxPeerConnections ?? 32) * 2 + init.relays.length + 8 },
    ...(init.connectionGater ? { connectionGater: init.connectionGater } : {}),
    services: { identify: identify() },
  })
  return new NetworkManager({ ...init, libp2p })
}
