// Mesh peers for the benchmark scripts: loopback WebRTC, no STUN, loopback dials allowed.
import { createNetworkManager, type NetworkManager, type NodeCreateOptions, type NodeNetworkInit } from 'peercompute'

/** Options of a benchmark's Node peers (createNode): loopback WebRTC, loopback dials, 1 s heartbeats, no GPU. */
export const LOOPBACK_NODE: Partial<NodeCreateOptions> = {
  rtcConfiguration: { iceServers: [], bindAddress: '127.0.0.1' },
  dialPolicy: { allowPrivate: true },
  heartbeatMs: 1000,
  enableWebGPU: false,
}

/** A Node mesh peer on `relay`, not started. */
export function benchPeer(relay: string, extra: Partial<NodeNetworkInit> = {}): Promise<NetworkManager> {
  return createNetworkManager({
    relays: [relay],
    rtcConfiguration: { iceServers: [], bindAddress: '127.0.0.1' },
    dialPolicy: { allowPrivate: true },
    capabilities: () => ({
      cores: 1,
      memoryMb: 0,
      gpu: false,
      kernels: [],
      substrate: 'node',
      price: { model: 'free', usd: 0 },
    }),
    ...extra,
  })
}
