import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'

const t0 = performance.now()
const log = (...a: unknown[]) => console.log(((performance.now() - t0) / 1000).toFixed(2), ...a)
const key = await generateKeyPair('Ed25519')
const mkRelay = () =>
  createLibp2p({
    privateKey: key,
    addresses: { listen: ['/ip4/127.0.0.1/tcp/19391/ws'] },
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: async () => false },
    services: { identify: identify(), relay: circuitRelayServer({ reservations: { applyDefaultLimit: false } }) },
  })
let relay = await mkRelay()
const relayAddr = relay.getMultiaddrs()[0]
const mode = process.argv[2]
const a = await createLibp2p({
  addresses: { listen: mode === 'specific' ? [`${relayAddr}/p2p-circuit`] : ['/p2p-circuit'] },
  transports: [tcp(), webSockets(), circuitRelayTransport()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  connectionGater: { denyDialMultiaddr: async () => false },
  services: { identify: identify(), ping: ping() },
})
if (mode !== 'specific') await a.dial(relayAddr)
const circ = () => a.getMultiaddrs().filter((m) => m.toString().includes('p2p-circuit')).length
for (let i = 0; i < 30 && !circ(); i++) await new Promise((r) => setTimeout(r, 100))
log('circuit addrs before', circ(), 'relay reservations', relay.services.relay.reservations.size)
await relay.stop()
log('relay stopped; circuit addrs', circ())
await new Promise((r) => setTimeout(r, 500))
relay = await mkRelay()
log('relay restarted')
try {
  await a.dial(relayAddr)
  log('redialed')
} catch (e) {
  log('redial failed', (e as Error).message)
}
for (let i = 0; i < 50 && !relay.services.relay.reservations.size; i++) await new Promise((r) => setTimeout(r, 100))
log('after 5s: circuit addrs', circ(), 'relay reservations', relay.services.relay.reservations.size)
await Promise.all([a.stop(), relay.stop()])
