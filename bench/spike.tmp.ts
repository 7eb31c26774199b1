import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { webRTC } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

const t0 = performance.now()
const log = (...a: unknown[]) => console.log(((performance.now() - t0) / 1000).toFixed(2), ...a)
const relay = await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'] },
  transports: [tcp(), webSockets()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  connectionGater: { denyDialMultiaddr: async () => false },
  services: {
    identify: identify(),
    ping: ping(),
    relay: circuitRelayServer({ reservations: { applyDefaultLimit: false, maxReservations: 100 } }),
  },
})
log('relay', relay.getMultiaddrs().map(String))
const relayWs = relay.getMultiaddrs().find((m) => m.toString().includes('/ws'))!
const mk = () =>
  createLibp2p({
    addresses: { listen: ['/p2p-circuit', '/webrtc'] },
    transports: [
      tcp(),
      webSockets(),
      circuitRelayTransport(),
      webRTC({ rtcConfiguration: { iceServers: [], bindAddress: '127.0.0.1' } as RTCConfiguration }),
    ],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: async () => false },
    services: { identify: identify(), ping: ping() },
  })
const a = await mk(),
  b = await mk()
await a.dial(relayWs)
await b.dial(relayWs)
const waitCircuit = async (n: typeof a) => {
  for (let i = 0; i < 100; i++) {
    const c = n.getMultiaddrs().find((m) => m.toString().includes('/p2p-circuit'))
    if (c) return c
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error('no reservation')
}
const ca = await waitCircuit(a),
  cb = await waitCircuit(b)
log('a addrs', a.getMultiaddrs().map(String))
const target = b.getMultiaddrs().find((m) => m.toString().includes('/webrtc/'))
log('b webrtc addr', String(target))
const conn = await a.dial(target!)
log('a->b', conn.remoteAddr.toString(), 'limits', conn.limits)
const rtt = await a.services.ping.ping(b.peerId)
log('rtt', rtt)
await Promise.all([a.stop(), b.stop(), relay.stop()])
log('stopped')
