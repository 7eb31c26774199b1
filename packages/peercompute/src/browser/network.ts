import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { webRTC } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'
import { type MeshLibp2pInit, meshLibp2pOptions } from '../core/network/libp2p-options.js'
import { NetworkManager, type NetworkManagerInit } from '../core/network/network-manager.js'

/**
 * Options of a browser peer's network. Browsers refuse `ws://` and loopback
 * relays by default: a page talking to a relay on localhost passes
 * `connectionGater: { denyDialMultiaddr: async () => false }`.
 */
export interface BrowserNetworkInit extends Omit<NetworkManagerInit, 'libp2p'>, MeshLibp2pInit {
  /** WebRTC settings; without `iceServers`, libp2p's default public STUN servers are used. */
  rtcConfiguration?: RTCConfiguration
}

/** A NetworkManager in a page: WebSockets to relays, circuit relay v2, WebRTC between browsers. */
export async function createNetworkManager(init: BrowserNetworkInit): Promise<NetworkManager> {
  const rtc = init.rtcConfiguration ? { rtcConfiguration: init.rtcConfiguration } : {}
  const libp2p = await createLibp2p(
    meshLibp2pOptions(init, [
      webSockets(),
      circuitRelayTransport({ reservationCompletionTimeout: 10_000 }),
      webRTC(rtc),
    ]),
  )
  return new NetworkManager({ ...init, libp2p })
}
