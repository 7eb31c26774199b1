import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import type { Connection } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { measureRtt, type NetworkManager, RTT_PROTOCOL } from 'peercompute'
import { afterEach, describe, expect, it } from 'vitest'
import { directPeers, loopbackOnly, startPeers, testRelay, waitFor } from './helpers.js'

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {})
})
const stopAll = (peers: NetworkManager[]) => cleanups.push(() => Promise.all(peers.map((p) => p.stop())))

describe.skipIf(!loopbackOnly)('mesh: a relay and Node peers (loopback-only namespace)', () => {
  it('5 peers discover each other, connect directly over WebRTC, talk both ways, and stay connected', async () => {
    const r = await testRelay()
    cleanups.push(() => r.stop())
    const peers = await startPeers(5, r.wsAddr)
    stopAll(peers)
    let upgrades = 0
    for (const p of peers) p.addEventListener('connection:upgrade', () => upgrades++)
    const ids = peers.map((p) => p.peerId)
    await waitFor('every peer knows the 4 others', () => peers.every((p) => p.knownPeers().length === 4))
    await waitFor('full mesh of direct connections', () => peers.every((p) => directPeers(p).size === 4), 30_000)
    // once upgraded, relayed connections are retired when idle
    await waitFor(
      'relayed connections between peers retired',
      () => peers.every((p) => p.getStatus().connections.every((c) => c.relay || c.transport !== 'relayed')),
      20_000,
    )
    for (const p of peers) {
      const st = p.getStatus()
      expect(st.relays[0]).toMatchObject({ connected: true, reserved: true, registered: true })
      for (const c of st.connections.filter((c) => !c.relay)) {
        expect(c.transport).toBe('webrtc')
        expect(c.remoteAddr).toContain('/webrtc')
      }
    }
    expect(r.relay.registry.peers.size).toBe(5)
    // WebRTC signalling went through the relay: the relayed bytes show in /metrics
    const metrics = await (await fetch(`${r.relay.httpUrl}/metrics`)).text()
    expect(metrics).toMatch(/^peercompute_relay_reservations 5$/m)
    const hop =
      /^libp2p_data_transfer_bytes_total\{protocol="\/libp2p\/circuit\/relay\/0\.2\.0\/hop received"\} (\d+)$/m.exec(
        metrics,
      )
    expect(Number(hop?.[1])).toBeGreaterThan(0)
    // peers that first met over the relay were upgraded to direct connections
    expect(upgrades).toBeGreaterThan(0)

    // a message protocol, both ways
    const PROTO = '/peercompute/test-echo/1.0.0'
    for (const p of peers) {
      await p.handle(PROTO, (stream) => {
        stream.addEventListener('message', (e) => {
          try {
            stream.send(e.data.subarray())
          } catch (err) {
            stream.abort(err as Error)
          }
        })
        stream.addEventListener('remoteCloseWrite', () => void stream.close())
      })
    }
    const roundTrip = async (from: NetworkManager, to: string, text: string) => {
      const s = await from.dialProtocol(to, PROTO)
      const got = new Promise<string>((resolve) =>
        s.addEventListener('message', (e) => resolve(new TextDecoder().decode(e.data.subarray())), { once: true }),
      )
      s.send(new TextEncoder().encode(text))
      const reply = await got
      await s.close()
      return reply
    }
    expect(await roundTrip(peers[0], ids[1], 'ping 0→1')).toBe('ping 0→1')
    expect(await roundTrip(peers[1], ids[0], 'ping 1→0')).toBe('ping 1→0')

    // nothing drops: watch every connection for 12 s (the old prototype lost them at ~10 s)
    let drops = 0
    for (const p of peers) p.libp2p.addEventListener('connection:close', () => drops++)
    await new Promise((res) => setTimeout(res, 12_000))
    expect(drops).toBe(0)
    expect(peers.every((p) => directPeers(p).size === 4)).toBe(true)
    const rtts = peers.flatMap((p) => p.getStatus().peers.map((x) => x.rttMs))
    expect(rtts.every((x) => typeof x === 'number' && x >= 0)).toBe(true)
  })

  it('after a relay restart every peer is back: reserved and registered', async () => {
    const r = await testRelay()
    cleanups.push(() => r.stop())
    const peers = await startPeers(5, r.wsAddr)
    stopAll(peers)
    await waitFor('all registered', () => r.relay.registry.peers.size === 5)
    let disconnects = 0
    for (const p of peers) p.addEventListener('relay:disconnect', () => disconnects++)
    await r.restart()
    await waitFor(
      're-registered and re-reserved',
      () =>
        r.relay.registry.peers.size === 5 &&
        peers.every((p) => {
          const rel = p.getStatus().relays[0]
          return rel.connected && rel.reserved && rel.registered
        }),
    )
    expect(disconnects).toBe(5)
    await waitFor('peers still know each other', () => peers.every((p) => p.knownPeers().length === 4))
  })

  it('a SIGKILLed peer is seen to leave once its heartbeats expire', async () => {
    const r = await testRelay({ expiryMs: 5000 })
    cleanups.push(() => r.stop())
    const peers = await startPeers(2, r.wsAddr)
    stopAll(peers)
    const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/peer.mjs', import.meta.url)), r.wsAddr], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    cleanups.push(async () => child.kill('SIGKILL'))
    const childId = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        const m = /PEER (\S+)/.exec(d.toString())
        if (m) resolve(m[1])
      })
      child.once('exit', (code) => reject(new Error(`peer process exited with ${code}`)))
    })
    await waitFor('both see the child', () => peers.every((p) => p.knownPeers().some((x) => x.id === childId)))
    const left = peers.map(
      (p) =>
        new Promise<string>((resolve) =>
          p.addEventListener('peer:leave', (e) => e.detail.id === childId && resolve(e.detail.id)),
        ),
    )
    child.kill('SIGKILL')
    // the child sends nothing more, not even a goodbye: only the relay's heartbeat expiry can tell of it
    expect(await Promise.all(left)).toEqual([childId, childId])
    await waitFor('the relay dropped the child', () => !r.relay.registry.peers.has(childId))
    expect(peers.every((p) => !p.knownPeers().some((x) => x.id === childId))).toBe(true)
  })

  it('hierarchy gives a tree; emergent keeps k lowest-latency peers', async () => {
    const r = await testRelay()
    cleanups.push(() => r.stop())
    const tree = await startPeers(5, r.wsAddr, { topology: 'hierarchy', children: 2 })
    stopAll(tree)
    const ids = tree.map((p) => p.peerId)
    const sorted = [...ids].sort()
    await waitFor('all know each other', () => tree.every((p) => p.knownPeers().length === 4))
    const expected = (id: string) => {
      const i = sorted.indexOf(id)
      const n = new Set<string>()
      if (i > 0) n.add(sorted[Math.floor((i - 1) / 2)])
      for (const c of [2 * i + 1, 2 * i + 2]) if (c < sorted.length) n.add(sorted[c])
      return n
    }
    await waitFor(
      'tree edges connected directly',
      () => tree.every((p) => [...expected(p.peerId)].every((q) => directPeers(p).has(q))),
      30_000,
    )
    for (const p of tree) expect(new Set(p.getStatus().neighbors)).toEqual(expected(p.peerId))
    await Promise.all(tree.map((p) => p.stop()))

    const em = await startPeers(5, r.wsAddr, { topology: 'emergent', k: 2 })
    stopAll(em)
    await waitFor(
      'each emergent peer chose 2 neighbours and connected',
      () =>
        em.every((p) => {
          const n = p.getStatus().neighbors
          return n.length === 2 && n.every((q) => directPeers(p).has(q))
        }),
      30_000,
    )
  })

  it('RTT: measured over a direct connection; a peer that floods the RTT protocol is cut off', async () => {
    const r = await testRelay()
    cleanups.push(() => r.stop())
    const [a, b] = await startPeers(2, r.wsAddr)
    stopAll([a, b])
    await waitFor('direct', () => directPeers(a).has(b.peerId), 30_000)
    const conn = a.libp2p.getConnections().find((c) => c.remotePeer.toString() === b.peerId && !c.limits) as Connection
    const rtt = await measureRtt(conn, 5000)
    expect(rtt).toBeGreaterThan(0)
    expect(Number.isFinite(rtt)).toBe(true)
    const s = await conn.newStream(RTT_PROTOCOL)
    const closed = new Promise<void>((res) => s.addEventListener('close', () => res()))
    s.send(new Uint8Array(64))
    await closed
    expect(s.status).not.toBe('open')
    expect(await measureRtt(conn, 5000)).toBeGreaterThan(0) // b still serves
  })

  it('the relay serves a plain js-libp2p node as a standard circuit relay v2', async () => {
    const r = await testRelay()
    cleanups.push(() => r.stop())
    const plain = () =>
      createLibp2p({
        addresses: { listen: ['/p2p-circuit'] },
        transports: [tcp(), circuitRelayTransport()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        connectionGater: { denyDialMultiaddr: async () => false },
        services: { identify: identify() },
      })
    const [a, b] = await Promise.all([plain(), plain()])
    cleanups.push(() => Promise.all([a.stop(), b.stop()]))
    await a.dial(multiaddr(r.tcpAddr))
    await waitFor('a reserved', () => a.getMultiaddrs().some((m) => m.toString().includes('/p2p-circuit')))
    const circuit = a.getMultiaddrs().find((m) => m.toString().includes('/p2p-circuit')) as ReturnType<typeof multiaddr>
    const conn = await b.dial(circuit)
    expect(conn.remotePeer.toString()).toBe(a.peerId.toString())
    expect(conn.remoteAddr.toString()).toContain('/p2p-circuit')
  })
})
