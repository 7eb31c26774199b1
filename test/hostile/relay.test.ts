// Attacks on the relay: registry floods (reopening the stream between bursts),
// many peer ids from one IP, a subscriber that never reads, bad frames, and a
// reservation grab. For each: honest peers are still served, the attacker is
// cut off or refused, nothing is unhandled, and the registry stays within its
// stated memory bound. Attackers dial from 127.0.0.2 so that per-IP limits
// do not touch the honest peers on 127.0.0.1.
import { generateKeyPair } from '@libp2p/crypto/keys'
import { type Relay, type RelayLimits, startRelay } from '@peercompute/relay'
import { decodeRegistryMessage, encodeRegistryMessage, type NetworkManager, type RegistryMessage } from 'peercompute'
import { afterEach, describe, expect, it } from 'vitest'
import { loopbackOnly, NODE_CAPS, startPeers, waitFor } from '../integration/helpers.js'
import { type Attacker, type RawStream, startAttacker, watchUnhandled } from './attacker.js'

const REGISTRY = '/peercompute/registry/1.0.0'
const ATTACKER_IP = '127.0.0.2'
const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => {})
})

async function relayUp(limits: Partial<RelayLimits> = {}): Promise<{ relay: Relay; tcp: string }> {
  const relay = await startRelay({ privateKey: await generateKeyPair('Ed25519'), limits })
  cleanups.push(() => relay.stop())
  const tcp = relay.multiaddrs.find((m) => !m.toString().includes('/ws'))?.toString() as string
  return { relay, tcp }
}

async function attacker(opts: { listen?: string[] } = {}): Promise<Attacker> {
  const a = await startAttacker({ ...opts, localAddress: ATTACKER_IP })
  cleanups.push(() => a.stop())
  return a
}

/** Watches for unhandled errors for the whole test; asserts none at the end. */
function noUnhandled(): { errors: unknown[] } {
  const w = watchUnhandled()
  cleanups.push(() => w.stop())
  return w
}

const msg = (m: RegistryMessage) => encodeRegistryMessage(m)
const announce = (addrs: string[] = [], running = 0): RegistryMessage => ({
  type: 'announce',
  addrs,
  caps: NODE_CAPS(),
  load: { running, queued: 0 },
})

/** Two honest peers (on 127.0.0.1) join the relay and each sees the other. */
async function honestPairSeesEachOther(tcp: string): Promise<NetworkManager[]> {
  const peers = await startPeers(2, tcp)
  cleanups.push(() => Promise.all(peers.map((p) => p.stop())))
  await waitFor('the honest peers see each other', () =>
    peers.every((p, i) => p.knownPeers().some((k) => k.id === peers[1 - i].peerId)),
  )
  return peers
}

function withinBound(relay: Relay): void {
  const used = relay.registry.memoryUsedBytes()
  expect(used).toBeGreaterThan(0)
  expect(used).toBeLessThanOrEqual(relay.registry.memoryBoundBytes())
}

const connectedTo = (a: Attacker, relay: Relay) =>
  a.node.getConnections().some((c) => c.remotePeer.toString() === relay.peerId)

describe.skipIf(!loopbackOnly)('hostile: the relay', () => {
  it('floods of every registry message, reopening the stream between bursts, get the flooder cut off', async () => {
    const unhandled = noUnhandled()
    const { relay, tcp } = await relayUp()
    const honest = await honestPairSeesEachOther(tcp)
    const a = await attacker()
    const announcementsBefore = relay.registry.announcements
    const t0 = Date.now()
    let bursts = 0
    const kinds: RegistryMessage[] = [
      announce(['/ip4/127.0.0.2/tcp/1']),
      { type: 'heartbeat', load: { running: 1, queued: 0 } },
      { type: 'subscribe' },
      { type: 'mesh', links: [{ peer: honest[0].peerId, transport: 'tcp' }] },
    ]
    // bursts of 30 of one kind per stream, a new stream for each burst, until the relay hangs up
    while (connectedTo(a, relay) || bursts === 0) {
      let s: RawStream
      try {
        s = await a.open(tcp, REGISTRY)
      } catch {
        break // the relay refused the stream or the connection: cut off
      }
      const m = msg(kinds[bursts % kinds.length])
      for (let i = 0; i < 30 && !s.closed; i++) s.frame(m)
      bursts++
      await waitFor('the burst is judged', () => s.closed || relay.registry.cutOff > 0 || s.frames.length > 0)
      if (bursts > 200) throw new Error('never cut off')
    }
    const elapsedS = (Date.now() - t0) / 1000
    await waitFor('the relay cut the flooder off', () => relay.registry.cutOff > 0 && !connectedTo(a, relay))
    // state is kept per peer, across streams: the flooder got no more than one peer's budget (2/s, burst 20)
    expect(relay.registry.announcements - announcementsBefore).toBeLessThanOrEqual(20 + Math.ceil(2 * elapsedS) + 1)
    // its peer id stays refused: a new stream is reset at once
    const again = await a.open(tcp, REGISTRY).catch(() => undefined)
    if (again) await waitFor('a banned peer id is refused', () => again.closed)
    expect(relay.registry.peers.has(a.peerId)).toBe(false)
    // the honest peers are still registered and served
    const late = await startPeers(1, tcp)
    cleanups.push(() => late[0].stop())
    await waitFor('a new honest peer sees the others', () => late[0].knownPeers().length >= 2)
    withinBound(relay)
    expect(unhandled.errors).toEqual([])
  })

  it('many peer ids from one IP share that IP budget', async () => {
    const unhandled = noUnhandled()
    // an IP's budget is 2 peers' worth: announce burst 40, heartbeat burst 20
    const { relay, tcp } = await relayUp({ registryPeersPerIp: 2 })
    const before = relay.registry.announcements
    const t0 = Date.now()
    const swarm = await Promise.all(Array.from({ length: 12 }, () => attacker()))
    const streams = await Promise.all(swarm.map((a) => a.open(tcp, REGISTRY)))
    // each id sends 10 announcements: within its own budget, 120 in all, 3 times the IP's
    for (const [i, s] of streams.entries()) for (let j = 0; j < 10; j++) s.frame(msg(announce([], i * 100 + j)))
    const refused = () =>
      streams.reduce((n, s) => n + s.frames.filter((f) => decodeRegistryMessage(f).type === 'error').length, 0)
    await waitFor('every announcement is judged', () => relay.registry.announcements - before + refused() === 120)
    const elapsedS = (Date.now() - t0) / 1000
    const accepted = relay.registry.announcements - before
    expect(accepted).toBeLessThanOrEqual(40 + Math.ceil(2 * 2 * elapsedS) + 1)
    expect(accepted).toBeLessThan(120)
    expect(refused()).toBe(120 - accepted)
    expect(streams.every((s) => !s.closed)).toBe(true) // refused, not yet out of strikes
    // honest peers from another IP are untouched
    await honestPairSeesEachOther(tcp)
    withinBound(relay)
    expect(unhandled.errors).toEqual([])
  })

  it('a subscriber that never reads is dropped while others churn, and memory stays bounded', async () => {
    const unhandled = noUnhandled()
    const { relay, tcp } = await relayUp({ maxSubscriberBacklogBytes: 256 << 10 })
    const honest = await honestPairSeesEachOther(tcp)
    const sink = await attacker()
    const lazy = await sink.open(tcp, REGISTRY, { read: false })
    lazy.frame(msg({ type: 'subscribe' }))
    await waitFor('the lazy subscriber is registered', () => relay.registry.sessionCount === 3)
    // churners: fat records (32 addresses of 400 characters), load changing on every heartbeat
    const fat = Array.from({ length: 32 }, (_, i) => `/dns4/${'x'.repeat(380)}${i}.example/tcp/1`)
    const churners = await Promise.all(Array.from({ length: 8 }, () => attacker()))
    const cs = await Promise.all(churners.map((c) => c.open(tcp, REGISTRY)))
    // up to 15 rounds: each churner re-announces with a new load, within its budget (burst 20)
    for (let round = 0; !lazy.closed; round++) {
      if (round >= 15) throw new Error('the lazy subscriber was never dropped')
      for (const s of cs) s.frame(msg(announce(fat, round)))
      await waitFor(
        'the round reached the relay',
        () => lazy.closed || churners.every((c) => relay.registry.peers.get(c.peerId)?.record.load.running === round),
      )
      withinBound(relay)
    }
    await waitFor('the relay dropped the lazy subscriber', () => relay.registry.sessionCount === 2 + cs.length)
    expect(relay.registry.cutOff).toBeGreaterThan(0)
    // the churners were within their budgets: none was cut off
    expect(cs.every((s) => !s.closed)).toBe(true)
    // honest subscribers heard every churner
    await waitFor('the honest peers see the churners', () =>
      honest.every((p) => churners.every((c) => p.knownPeers().some((k) => k.id === c.peerId))),
    )
    withinBound(relay)
    expect(unhandled.errors).toEqual([])
  })

  it('oversized, malformed and partial frames cost only their sender', async () => {
    const unhandled = noUnhandled()
    const { relay, tcp } = await relayUp()
    const a = await attacker()
    const bad: RawStream[] = []
    // a length over the 64 KiB limit; a varint longer than 5 bytes; an unknown type; bad JSON; a field out of range
    const frames: Array<(s: RawStream) => void> = [
      (s) => s.raw(Uint8Array.of(0xff, 0xff, 0x7f)),
      (s) => s.raw(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01)),
      (s) => s.frame(Uint8Array.of(99, 0x7b, 0x7d)),
      (s) => s.frame(Uint8Array.of(1, ...new TextEncoder().encode('{"addrs":'))),
      (s) => s.frame(Uint8Array.of(2, ...new TextEncoder().encode('{"load":{"running":-1,"queued":0}}'))),
    ]
    for (const f of frames) {
      const s = await a.open(tcp, REGISTRY)
      f(s)
      bad.push(s)
      await waitFor('the relay reset the bad stream', () => s.closed)
    }
    // a frame that declares 60 KiB and sends 1 KiB: held, and counted
    const partial = await a.open(tcp, REGISTRY)
    const before = relay.registry.memoryUsedBytes()
    partial.raw(Uint8Array.of(0xe0, 0xd4, 0x03, ...new Uint8Array(1024)))
    await waitFor('the partial frame is accounted', () => relay.registry.memoryUsedBytes() >= before + 1024)
    withinBound(relay)
    expect(bad.every((s) => s.closed)).toBe(true)
    await honestPairSeesEachOther(tcp)
    withinBound(relay)
    expect(unhandled.errors).toEqual([])
  })

  it('a registry frame sent a byte per muxer message: the stream is reset and the connection closed', async () => {
    const unhandled = noUnhandled()
    const { relay, tcp } = await relayUp()
    const a = await attacker()
    const s = await a.open(tcp, REGISTRY)
    const framed = new Uint8Array([0xe0, 0xd4, 0x03, ...new Uint8Array(60_000)]) // a 60 KiB frame: 74 pieces allowed
    for (let i = 0; i < 1000; i++) s.raw(framed.subarray(i, i + 1)) // each send() its own muxer data frame
    await waitFor('the relay reset the trickled stream', () => s.closed)
    await waitFor('the relay closed the connection', () => !connectedTo(a, relay))
    await honestPairSeesEachOther(tcp)
    withinBound(relay)
    expect(unhandled.errors).toEqual([])
  })

  it('one IP holds at most its share of circuit reservations, and a reservation ends with its connection', async () => {
    const unhandled = noUnhandled()
    const { relay, tcp } = await relayUp({ maxReservationsPerIp: 3 })
    const reserved = () => relay.node.services.relay.reservations.size
    const held = (a: Attacker) => a.node.getMultiaddrs().some((m) => m.toString().includes('/p2p-circuit'))
    // an attacker listening on the relay cannot start without its reservation
    const grabbers: Attacker[] = []
    const refusals: string[] = []
    for (let i = 0; i < 5; i++) {
      await attacker({ listen: [`${tcp}/p2p-circuit`] }).then(
        (a) => grabbers.push(a),
        (err: Error) => refusals.push(err.message),
      )
    }
    expect(grabbers).toHaveLength(3)
    expect(refusals).toHaveLength(2)
    for (const r of refusals) expect(r).toMatch(/PERMISSION_DENIED/)
    await waitFor('3 grabbers hold reservations', () => reserved() === 3 && grabbers.filter(held).length === 3)
    // an honest peer from another IP still gets one
    const honest = await honestPairSeesEachOther(tcp)
    await waitFor('the honest peers hold reservations', () =>
      honest.every((p) => p.getStatus().relays[0]?.reserved === true),
    )
    expect(grabbers.filter(held)).toHaveLength(3)
    // a grabber that leaves frees its reservation at once (not after the 2 h TTL)
    const leaver = grabbers.find(held) as Attacker
    await leaver.stop()
    await waitFor(
      'the reservation ended with the connection',
      () => !relay.node.services.relay.reservations.has(leaver.node.peerId),
    )
    expect(unhandled.errors).toEqual([])
  })
})
