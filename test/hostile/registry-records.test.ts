// Attacks through the relay registry: a peer announces addresses that do not
// parse, addresses in loopback / private / metadata ranges, and circuits through
// relays nobody configured. Honest nodes must not crash, must not dial what
// their dial policy forbids (a counting TCP server on 127.0.0.1 proves it), and
// a job between them must still finish correctly.
import { createServer, type Server } from 'node:net'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { prng } from '@peercompute/kernels/testing'
import { encodeRegistryMessage, type NodeKernel, REGISTRY_PROTOCOL, runOp } from 'peercompute'
import { afterEach, describe, expect, it } from 'vitest'
import { loopbackOnly, startNodes, testRelay, waitFor } from '../integration/helpers.js'
import { type Attacker, type RawStream, startAttacker, watchUnhandled } from './attacker.js'

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A TCP server on 127.0.0.1 that counts the connections it accepts (and closes them). */
async function countingServer(): Promise<{ port: number; readonly count: number }> {
  let count = 0
  const server: Server = createServer((socket) => {
    count++
    socket.destroy()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  cleanups.push(() => new Promise((r) => server.close(() => r(undefined))))
  return {
    port: (server.address() as { port: number }).port,
    get count() {
      return count
    },
  }
}

/** A key whose peer id sorts before `than`: in the `distributed` topology the smaller id dials. */
async function keyBefore(than: string): Promise<PrivateKey> {
  for (;;) {
    const key = await generateKeyPair('Ed25519')
    if (peerIdFromPrivateKey(key).toString() < than) return key
  }
}

const CAPS = {
  cores: 64,
  memoryMb: 65536,
  gpu: false,
  kernels: ['crc32c', 'counteq', 'xor'],
  substrate: 'node' as const,
  price: { model: 'free' as const, usd: 0 },
}

/** Registers `attacker` with the relay at `relayAddr`, announcing `addrs` as they are. */
async function announce(attacker: Attacker, relayAddr: string, addrs: string[]): Promise<RawStream> {
  const s = await attacker.open(relayAddr, REGISTRY_PROTOCOL)
  // encodeRegistryMessage does not check addresses: the attacker's strings go out as written
  expect(s.frame(encodeRegistryMessage({ type: 'announce', addrs, caps: CAPS, load: { running: 0, queued: 0 } }))).toBe(
    true,
  )
  return s
}

function connectedTo(node: NodeKernel, peer: string): boolean {
  return node.getStatus().connections.some((c) => c.peer === peer)
}

/** Every test here may only aim traffic at 127.0.0.1: without a loopback-only namespace, skip. */
describe.skipIf(!loopbackOnly)('hostile registry records', () => {
  it('unparsable, loopback, private and metadata addresses: honest nodes do not crash or dial them; a job runs on', async () => {
    const unhandled = watchUnhandled()
    cleanups.push(() => unhandled.stop())
    const r = await testRelay()
    cleanups.push(() => r.stop())
    const counter = await countingServer()
    const fakeRelay = await countingServer()
    const attacker = await startAttacker({ listen: ['/p2p-circuit'] })
    cleanups.push(() => attacker.stop())
    const a = attacker.peerId
    const fakeRelayId = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    // the victims sort before the attacker, so the topology has them dial it
    const victims = await Promise.all(
      [0, 1].map(async () => {
        const [node] = await startNodes(1, r.wsAddr, { dialPolicy: {}, privateKey: await keyBefore(a) })
        return node
      }),
    )
    cleanups.push(() => Promise.all(victims.map((v) => v.stop())))
    // a reservation on the relay, so that the victims have one address they may use: the circuit
    const reg = await announce(attacker, r.wsAddr, [])
    await waitFor('the attacker holds a reservation', () =>
      attacker.node.getMultiaddrs().some((m) => m.toString().includes('/p2p-circuit')),
    )
    const hostile = [
      'not-a-multiaddr',
      '',
      '/',
      '/ip4/127.0.0.1/tcp/99999',
      `/ip4/127.0.0.1/tcp/1/p2p/not-a-peer-id`,
      `/ip4/127.0.0.1/tcp/${counter.port}/p2p/${a}`,
      `/ip6/::ffff:127.0.0.1/tcp/${counter.port}/p2p/${a}`,
      `/dns4/localhost/tcp/${counter.port}/p2p/${a}`,
      `/ip4/10.0.0.1/tcp/${counter.port}/p2p/${a}`,
      `/ip4/169.254.169.254/tcp/80/p2p/${a}`,
      `/ip4/100.100.100.200/tcp/80/p2p/${a}`,
      `/ip6/fd00:ec2::254/tcp/80/p2p/${a}`,
      // a circuit through a "relay" nobody configured (the counting server)
      `/ip4/127.0.0.1/tcp/${fakeRelay.port}/p2p/${fakeRelayId}/p2p-circuit/p2p/${a}`,
      `/ip4/127.0.0.1/tcp/${fakeRelay.port}/p2p/${fakeRelayId}/p2p-circuit/webrtc/p2p/${a}`,
    ]
    // hostile addresses first: a node that dialled them would do so before its relayed fallback
    const circuit = `${r.wsAddr}/p2p-circuit/p2p/${a}`
    expect(
      reg.frame(
        encodeRegistryMessage({
          type: 'announce',
          addrs: [...hostile, circuit],
          caps: CAPS,
          load: { running: 0, queued: 0 },
        }),
      ),
    ).toBe(true)

    // the victims learn of the attacker; the bad addresses were dropped, the record kept
    for (const v of victims) {
      await waitFor('the victim knows the attacker', () =>
        v.network.knownPeers().some((p) => p.id === a && p.addrs.includes(circuit)),
      )
      const rec = v.network.knownPeers().find((p) => p.id === a)
      expect(rec?.addrs).not.toContain('not-a-multiaddr')
      expect(rec?.addrs.every((x) => x.startsWith('/'))).toBe(true)
    }
    // the only address the victims' policy allows is the circuit: once they reach the attacker over it,
    // every address they would have tried before it has been tried
    await waitFor('both victims reach the attacker through the relay', () =>
      victims.every((v) => attacker.node.getConnections().some((c) => c.remotePeer.toString() === v.peerId)),
    )
    for (const v of victims) expect(connectedTo(v, a)).toBe(true)
    // libp2p's own dials are gated too (e.g. identify-learned addresses)
    await expect(
      victims[0].network.libp2p.dial(multiaddr(`/ip4/127.0.0.1/tcp/${counter.port}/p2p/${fakeRelayId}`)),
    ).rejects.toThrow(/denied/)

    // a job between the honest nodes (the attacker offers the same kernels, and never answers)
    const data = prng(7).bytes(3 * 1024 * 1024 + 11)
    const job = victims[0].compute.submit({ op: 'crc32c', data, pieceBytes: 512 * 1024 })
    const res = await job.result
    expect(res.result).toBe(runOp('crc32c', data))

    expect(counter.count).toBe(0)
    expect(fakeRelay.count).toBe(0)
    expect(unhandled.errors).toEqual([])
    // the victims still serve: the registry stream of the attacker stays (bad addresses cost it nothing)
    expect(reg.closed).toBe(false)
  })

  it('circuits through a relay nobody configured are not dialled, even where private addresses are allowed', async () => {
    const unhandled = watchUnhandled()
    cleanups.push(() => unhandled.stop())
    const r = await testRelay()
    cleanups.push(() => r.stop())
    const fakeRelay = await countingServer()
    const direct = await countingServer()
    const attacker = await startAttacker()
    cleanups.push(() => attacker.stop())
    const a = attacker.peerId
    const fakeRelayId = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
    const [victim] = await startNodes(1, r.wsAddr, {
      dialPolicy: { allowPrivate: true },
      privateKey: await keyBefore(a),
    })
    cleanups.push(() => victim.stop())
    // loopback only, so that a victim allowed private addresses dials nothing else
    await announce(attacker, r.wsAddr, [
      `/ip4/127.0.0.1/tcp/${fakeRelay.port}/p2p/${fakeRelayId}/p2p-circuit/webrtc/p2p/${a}`,
      `/ip4/127.0.0.1/tcp/${fakeRelay.port}/p2p/${fakeRelayId}/p2p-circuit/p2p/${a}`,
      `/p2p/${fakeRelayId}/p2p-circuit/p2p/${a}`,
      // a control: loopback TCP is allowed by this victim's policy, and it is tried after the circuits
      `/ip4/127.0.0.1/tcp/${direct.port}/p2p/${a}`,
    ])
    // a second attempt (after back-off) means the first one, relayed fallback included, is over
    await waitFor('the victim tried the allowed loopback address twice', () => direct.count >= 2)
    expect(fakeRelay.count).toBe(0)
    expect(unhandled.errors).toEqual([])
  })

  it('a victim on default options dials no peer address at all on loopback, yet works with honest peers through its relay', async () => {
    const unhandled = watchUnhandled()
    cleanups.push(() => unhandled.stop())
    const r = await testRelay()
    cleanups.push(() => r.stop())
    // the honest peer also listens on loopback TCP, which the victim must not use
    const [honest] = await startNodes(1, r.wsAddr, { listen: ['/ip4/127.0.0.1/tcp/0'] })
    cleanups.push(() => honest.stop())
    const [victim] = await startNodes(1, r.wsAddr, { dialPolicy: {}, privateKey: await keyBefore(honest.peerId) })
    cleanups.push(() => victim.stop())
    await waitFor(
      'the two are connected',
      () => connectedTo(victim, honest.peerId) && connectedTo(honest, victim.peerId),
    )
    const data = prng(8).bytes(2 * 1024 * 1024)
    const res = await victim.compute.submit({
      op: 'counteq',
      data,
      imm: 7,
      pieceBytes: 256 * 1024,
      includeLocal: false,
    }).result
    expect(res.result).toBe(runOp('counteq', data, { imm: 7 }))
    expect(res.peers).toContain(honest.peerId)
    // whatever the victim opened itself went through the relay or WebRTC, never to a loopback TCP address
    const outbound = victim.getStatus().connections.filter((c) => c.direction === 'outbound' && !c.relay)
    for (const c of outbound) expect(c.transport, c.remoteAddr).not.toBe('tcp')
    expect(unhandled.errors).toEqual([])
  })
})
