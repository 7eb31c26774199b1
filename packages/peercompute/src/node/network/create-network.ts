import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { tcp } from '@libp2p/tcp'
import { webRTC } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'
import { DialRules } from '../../core/network/dial-policy.js'
import { type MeshLibp2pInit, meshLibp2pOptions } from '../../core/network/libp2p-options.js'
import { NetworkManager, type NetworkManagerInit } from '../../core/network/network-manager.js'
import { parseRelays } from '../../core/network/relay-sessions.js'
import { type NodeRtcConfiguration, releasingRtcConfiguration } from './rtc-release.js'

/** Options of a Node peer's network. */
export interface NodeNetworkInit extends Omit<NetworkManagerInit, 'libp2p' | 'dialRules'>, MeshLibp2pInit {
  /** Extra listen addresses, e.g. `/ip4/127.0.0.1/tcp/0` to accept TCP from other Node peers. */
  listen?: string[]
  /**
   * WebRTC settings for node-datachannel. Tests use
   * `{ iceServers: [], bindAddress: '127.0.0.1' }`; without `iceServers`
   * libp2p's default public STUN servers are used.
   */
  rtcConfiguration?: NodeRtcConfiguration
}

/**
 * A NetworkManager on a Node libp2p node: TCP, WebSockets, circuit relay v2,
 * WebRTC. `dialPolicy` decides which of them, and which address ranges, it
 * dials to reach peers (default: all four transports, public addresses only).
 */
export async function createNetworkManager(init: NodeNetworkInit): Promise<NetworkManager> {
  parseRelays(init.relays) // a bad relay address is a TypeError before anything is built
  const dialRules = new DialRules(init.dialPolicy, init.relays, ['tcp', 'websocket', 'webrtc', 'relayed'])
  // data channels are closed with their connection: a failed upgrade would otherwise keep the process alive
  const rtc = { rtcConfiguration: releasingRtcConfiguration(init.rtcConfiguration) } as Parameters<typeof webRTC>[0]
  const libp2p = await createLibp2p(
    meshLibp2pOptions(
      init,
      [tcp(), webSockets(), circuitRelayTransport({ reservationCompletionTimeout: 10_000 }), webRTC(rtc)],
      init.listen,
      dialRules,
    ),
  )
  return new NetworkManager({ ...init, libp2p, dialRules })
}
