import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { webRTC } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'
import { DialRules } from '../core/network/dial-policy.js'
import { type MeshLibp2pInit, meshLibp2pOptions } from '../core/network/libp2p-options.js'
import { NetworkManager, type NetworkManagerInit } from '../core/network/network-manager.js'
import { parseRelays } from '../core/network/relay-sessions.js'

/**
 * Options of a browser peer's network. The configured relays are always
 * dialled, a `ws://` relay on localhost included; peers are reached over WebRTC
 * or relayed, at public addresses unless `dialPolicy.allowPrivate` (the dial
 * policy replaces libp2p's browser gater, which refused every `ws://` and
 * private address, relays included).
 */
export interface BrowserNetworkInit extends Omit<NetworkManagerInit, 'libp2p' | 'dialRules'>, MeshLibp2pInit {
  /** WebRTC settings; without `iceServers`, libp2p's default public STUN servers are used. */
  rtcConfiguration?: RTCConfiguration
}

/** A NetworkManager in a page: WebSockets to relays, circuit relay v2, WebRTC between browsers. */
export async function createNetworkManager(init: BrowserNetworkInit): Promise<NetworkManager> {
  parseRelays(init.relays) // a bad relay address is a TypeError before anything is built
  const dialRules = new DialRules(init.dialPolicy, init.relays, ['webrtc', 'relayed'])
  const rtc = init.rtcConfiguration ? { rtcConfiguration: init.rtcConfiguration } : {}
  const libp2p = await createLibp2p(
    meshLibp2pOptions(
      init,
      [webSockets(), circuitRelayTransport({ reservationCompletionTimeout: 10_000 }), webRTC(rtc)],
      [],
      dialRules,
    ),
  )
  return new NetworkManager({ ...init, libp2p, dialRules })
}
