import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import {
  decodeRegistryMessage,
  encodeFrame,
  encodeRegistryMessage,
  FramedStream,
  REGISTRY_MAX_FRAME,
  REGISTRY_PROTOCOL,
  type RegistryMessage,
} from 'peercompute'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { parseRelayConfig } from './config.js'
import { loadOrCreateIdentity } from './identity.js'
import { type Relay, startRelay } from './relay.js'

const dir = mkdtempSync(join(tmpdir(), 'pc-relay-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})

const caps = (cores: number, substrate: 'node' | 'browser', gpu = false) => ({
  cores,
  memoryMb: 1000,
  gpu,
  kernels: ['crc32c'],
  substrate,
  price: { model: 'free' as const, usd: 0 },
})
const codec = { encode: encodeRegistryMessage, decode: decodeRegistryMessage, maxFrame: REGISTRY_MAX_FRAME }

async function relayUp(): Promise<Relay> {
  const { key } = await loadOrCreateIdentity(join(dir, `k-${Math.random()}`))
  const relay = await startRelay({ privateKey: key })
  cleanups.push(() => relay.stop())
  return relay
}

/** A bare libp2p node (no PeerCompute code) speaking the registry protocol by hand. */
async function client(relay: Relay) {
  const node: Libp2p = await createLibp2p({
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: async () => false },
  })
  cleanups.push(async () => node.stop())
  const addr = relay.multiaddrs.find((m) => !m.toString().includes('/ws')) as ReturnType<typeof multiaddr>
  const stream = await node.dialProtocol(addr, REGISTRY_PROTOCOL)
  const got: RegistryMessage[] = []
  let closed = false
  const framed = new FramedStream(stream, codec, { onMessage: (m) => got.push(m), onClose: () => (closed = true) })
  return { node, stream, framed, got, isClosed: () => closed }
}

const until = async (cond: () => boolean, ms = 5000) => {
  const t0 = Date.now()
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('relay', () => {
  it('keeps its identity across restarts in a mode-0600 key file', async () => {
    const path = join(dir, 'sub', 'relay.key')
    const a = await loadOrCreateIdentity(path)
    const b = await loadOrCreateIdentity(path)
    expect(a.created).toBe(true)
    expect(b.created).toBe(false)
    expect(b.key.publicKey.equals(a.key.publicKey)).toBe(true)
    expect(statSync(path).mode & 0o777).toBe(0o600)
  })

  it('reads flags, then environment, then defaults, and names a bad flag', () => {
    const c = parseRelayConfig(['--ws-port', '7000', '--expiry-s', '30'], {
      PEERCOMPUTE_RELAY_WS_PORT: '1',
      PEERCOMPUTE_RELAY_HTTP_PORT: '7001',
    })
    expect(c).toMatchObject({ wsPort: 7000, httpPort: 7001, tcpPort: 9092, host: '127.0.0.1' })
    expect(c.limits.expiryMs).toBe(30_000)
    expect(c.limits.relayedDataBytes).toBe(16n << 30n)
    expect(() => parseRelayConfig(['--max-peers', '0'], {})).toThrow(/--max-peers must be an integer in 1\.\./)
    expect(() => parseRelayConfig(['--nope', '1'], {})).toThrow()
  })

  it('registry: announce, subscribe, update, mesh, HTTP API; malformed input costs only the sender', async () => {
    const relay = await relayUp()
    const a = await client(relay)
    const b = await client(relay)
    await a.framed.send({
      type: 'announce',
      addrs: ['/ip4/127.0.0.1/tcp/1'],
      caps: caps(4, 'node', true),
      load: { running: 0, queued: 0 },
    })
    await a.framed.send({ type: 'subscribe' })
    await b.framed.send({ type: 'subscribe' })
    await b.framed.send({ type: 'announce', addrs: [], caps: caps(2, 'browser'), load: { running: 1, queued: 0 } })
    await until(
      () => a.got.filter((m) => m.type === 'join').length === 2 && b.got.filter((m) => m.type === 'join').length === 2,
    )
    // the id is the connection's, whatever the message says
    expect(a.got.map((m) => m.type === 'join' && m.peer.id)).toContain(b.node.peerId.toString())

    await b.framed.send({ type: 'heartbeat', load: { running: 5, queued: 2 } })
    await until(() => a.got.some((m) => m.type === 'update' && m.peer.load.running === 5))
    await a.framed.send({ type: 'mesh', links: [{ peer: b.node.peerId.toString(), transport: 'webrtc', rttMs: 3 }] })

    const auth = { authorization: `Bearer ${relay.token}` }
    const get = async (p: string) => (await fetch(`${relay.httpUrl}${p}`, { headers: auth })).json()
    await until(() => relay.registry.peers.get(a.node.peerId.toString())?.links.length === 1)
    expect((await get('/healthz')).ok).toBe(true)
    expect((await get('/api/peers')).peers).toHaveLength(2)
    expect(await get('/api/capacity')).toEqual({
      total: { peers: 2, cores: 6, memoryMb: 2000, gpus: 1 },
      bySubstrate: {
        node: { peers: 1, cores: 4, memoryMb: 1000, gpus: 1 },
        browser: { peers: 1, cores: 2, memoryMb: 1000, gpus: 0 },
      },
    })
    expect((await get('/api/mesh')).links).toEqual([
      { from: a.node.peerId.toString(), to: b.node.peerId.toString(), transport: 'webrtc', rttMs: 3 },
    ])
    const metrics = await (await fetch(`${relay.httpUrl}/metrics`)).text()
    expect(metrics).toMatch(/^peercompute_registry_peers 2$/m)
    expect(metrics).toMatch(/^peercompute_registry_announcements_total 2$/m)
    expect(metrics).toMatch(/^peercompute_relay_connections \d+$/m)
    expect((await fetch(`${relay.httpUrl}/api/peers`, { method: 'POST', headers: auth })).status).toBe(405)
    // peer addresses need the token; health and metrics do not
    for (const p of ['/api/peers', '/api/mesh']) {
      const res = await fetch(`${relay.httpUrl}${p}`)
      expect(res.status).toBe(401)
      expect((await res.json()).error).toMatch(/Authorization: Bearer <token>/)
      const wrong = await fetch(`${relay.httpUrl}${p}`, { headers: { authorization: `Bearer ${relay.token}x` } })
      expect(wrong.status).toBe(401)
    }
    expect((await fetch(`${relay.httpUrl}/healthz`)).status).toBe(200)
    expect((await fetch(`${relay.httpUrl}/api/capacity`)).status).toBe(200)

    // a malformed frame: b's stream is aborted, b leaves, a is still served
    b.stream.send(encodeFrame(Uint8Array.of(1, ...new TextEncoder().encode('{"addrs":"nope"}'))))
    await until(() => b.isClosed())
    await until(() => a.got.some((m) => m.type === 'leave' && m.id === b.node.peerId.toString()))
    // an oversized frame header is refused before anything is buffered
    const c = await client(relay)
    c.stream.send(Uint8Array.of(0xff, 0xff, 0xff, 0x7f))
    await until(() => c.isClosed())
    await a.framed.send({ type: 'heartbeat', load: { running: 1, queued: 1 } })
    await until(() => relay.registry.peers.get(a.node.peerId.toString())?.record.load.running === 1)
    expect(relay.registry.peers.size).toBe(1)
  })

  it('the process logs start, joins, leaves and stop, and shuts down on SIGTERM', async () => {
    const main = fileURLToPath(new URL('../dist/main.js', import.meta.url))
    const proc = spawn(
      process.execPath,
      [main, '--ws-port', '0', '--tcp-port', '0', '--http-port', '0', '--identity', join(dir, 'proc.key')],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    cleanups.push(async () => proc.kill('SIGKILL'))
    let out = ''
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    await until(() => /http api: /.test(out), 15_000)
    expect(out).toMatch(/identity created: .*proc\.key \(mode 0600\)/)
    // the API token: made beside the identity, mode 0600, printed once
    const token = /http api token created: (\S+) \(mode 0600\): (\S+)/.exec(out)
    expect(token?.[1]).toBe(join(dir, 'relay.token'))
    expect(statSync(join(dir, 'relay.token')).mode & 0o777).toBe(0o600)
    const httpUrl = /http api: (http:\/\/\S+)\/healthz/.exec(out)?.[1] as string
    expect((await fetch(`${httpUrl}/api/peers`)).status).toBe(401)
    const withToken = await fetch(`${httpUrl}/api/peers`, { headers: { authorization: `Bearer ${token?.[2]}` } })
    expect(withToken.status).toBe(200)
    expect(out).toMatch(/relay started: 12D3Koo/)
    const tcpAddr = /listening: (\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\S+)/.exec(out)?.[1] as string
    const node = await createLibp2p({
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: { denyDialMultiaddr: async () => false },
    })
    const stream = await node.dialProtocol(multiaddr(tcpAddr), REGISTRY_PROTOCOL)
    stream.send(
      encodeFrame(
        encodeRegistryMessage({ type: 'announce', addrs: [], caps: caps(1, 'node'), load: { running: 0, queued: 0 } }),
      ),
    )
    await until(() => out.includes(`peer joined: ${node.peerId}`))
    await node.stop()
    await until(() => out.includes(`peer left: ${node.peerId}`))
    const exit = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)))
    proc.kill('SIGTERM')
    expect(await exit).toBe(0)
    expect(out).toMatch(/SIGTERM: shutting down/)
    expect(out).toMatch(/relay stopped: 12D3Koo/)
  })
})
