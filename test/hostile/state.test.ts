// Attacks on the state protocol: an attacker (plain js-libp2p, our wire codecs
// only) joins the open room of a real node and misbehaves. Each time the node
// keeps syncing with an honest node, cuts the attacker off ('state:refused'),
// believes no forged presence, and nothing goes unhandled.
import * as encoding from 'lib0/encoding'
import {
  CHUNK_FRAME_MAX,
  encodeStateMessage,
  type NodeCreateOptions,
  type NodeKernel,
  STATE_PROTOCOL,
  type StateMessage,
  toChunks,
} from 'peercompute'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import { loopbackOnly, startNodes, testRelay, waitFor } from '../integration/helpers.js'
import { type RawStream, startAttacker, watchUnhandled } from './attacker.js'

const unhandled = watchUnhandled()
let relay: Awaited<ReturnType<typeof testRelay>>
let victim: NodeKernel
let honest: NodeKernel
const refused: Array<{ peer: string; reason: string }> = []
let edits = 0

beforeAll(async () => {
  relay = await testRelay()
  ;[victim, honest] = await startNodes(2, relay.wsAddr, { listen: ['/ip4/127.0.0.1/tcp/0'] })
  victim.state.addEventListener('state:refused', (e) => refused.push(e.detail))
  await waitFor('the honest node joined the victim', () => victim.state.peers().includes(honest.peerId))
})

afterAll(async () => {
  await Promise.all([victim?.stop(), honest?.stop()])
  await relay?.stop()
  unhandled.stop()
})

/** A map edit on each honest node reaches the other. */
async function stillSyncing(): Promise<void> {
  const key = `edit-${++edits}`
  honest.state.map('m').set(key, 1)
  victim.state.map('m').set(`${key}-back`, 2)
  await waitFor(`${key} synced both ways`, () => victim.state.map('m').get(key) === 1)
  await waitFor(`${key}-back synced`, () => honest.state.map('m').get(`${key}-back`) === 2)
}

/** Opens the state protocol on `target` (default the victim) from a fresh attacker (a new peer id each time). */
async function attack(
  target: NodeKernel = victim,
): Promise<{ s: RawStream; id: string; send(m: StateMessage): void; stop(): Promise<void> }> {
  const a = await startAttacker()
  const addr = target.network.libp2p
    .getMultiaddrs()
    .map(String)
    .find((m) => m.includes('/tcp/') && !m.includes('/ws') && !m.includes('p2p-circuit')) as string
  // libp2p refuses more than a few inbound connections a second from one host: back off and dial again
  let s: RawStream | undefined
  for (let tries = 1; !s; tries++) {
    s = await a.open(addr, STATE_PROTOCOL).catch((err) => {
      if (tries >= 20) throw err
      return new Promise<undefined>((r) => setTimeout(r, 250))
    })
  }
  const send = (m: StateMessage) => {
    for (const f of toChunks(encodeStateMessage(m))) s.frame(f)
  }
  return { s, id: a.peerId, send, stop: () => a.stop() }
}

/** Waits until the victim cut `id` off, and its stream is gone; returns the reason. */
async function cutOff(x: { s: RawStream; id: string; stop(): Promise<void> }): Promise<string> {
  await waitFor(`the victim cut ${x.id} off`, () => refused.some((r) => r.peer === x.id))
  await waitFor('the attacker stream closed', () => x.s.closed)
  await x.stop()
  expect(victim.state.peers()).not.toContain(x.id)
  return refused.find((r) => r.peer === x.id)?.reason as string
}

const join = (): StateMessage => ({ kind: 'join', room: victim.state.room, proof: new Uint8Array(0) })
const syncUpdate = (update: Uint8Array): StateMessage => {
  const e = encoding.createEncoder()
  syncProtocol.writeUpdate(e, update)
  return { kind: 'sync', payload: encoding.toUint8Array(e) }
}
const presence = (clientID: number, state: unknown): StateMessage => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 1)
  encoding.writeVarUint(e, clientID)
  encoding.writeVarUint(e, 1)
  encoding.writeVarString(e, JSON.stringify(state))
  return { kind: 'awareness', payload: encoding.toUint8Array(e) }
}

/** The updates of `n` inserts of `size` characters at the start of text `name` (each depends on the one before). */
function textInserts(name: string, n: number, size: number): Uint8Array[] {
  const d = new Y.Doc()
  const updates: Uint8Array[] = []
  d.on('update', (u: Uint8Array) => updates.push(u))
  for (let i = 0; i < n; i++) d.getText(name).insert(0, `${i % 10}`.repeat(size))
  return updates
}

/** A node of its own with `stateLimits`, its refusals, and an attacker joined to its room. */
async function ownVictim(stateLimits: NodeCreateOptions['stateLimits']) {
  const [node] = await startNodes(1, relay.wsAddr, { listen: ['/ip4/127.0.0.1/tcp/0'], stateLimits })
  const cut: Array<{ peer: string; reason: string }> = []
  node.state.addEventListener('state:refused', (e) => cut.push(e.detail))
  const joined = async () => {
    const x = await attack(node)
    x.send({ kind: 'join', room: node.state.room, proof: new Uint8Array(0) })
    return x
  }
  return { node, cut, joined }
}

describe.skipIf(!loopbackOnly)('hostile peers on the state protocol', () => {
  it('one huge update (over 8 MiB): cut off, the document untouched', async () => {
    const x = await attack()
    x.send(join())
    const d = new Y.Doc()
    d.getText('bloat').insert(0, 'x'.repeat(9 << 20))
    x.send(syncUpdate(Y.encodeStateAsUpdate(d)))
    expect(await cutOff(x)).toMatch(/message over 8388608 bytes|over its state allowance/)
    expect(victim.state.text('bloat').length).toBe(0)
    await stillSyncing()
  })

  it('a flood of small valid updates: cut off at its message allowance', async () => {
    const x = await attack()
    x.send(join())
    const d = new Y.Doc()
    d.on('update', (u: Uint8Array) => x.send(syncUpdate(u)))
    for (let i = 0; i < 20_000 && !x.s.closed; i++) d.getMap('spam').set(`k${i % 16}`, i)
    expect(await cutOff(x)).toBe('over its state allowance (1000 messages/s)')
    await stillSyncing()
  })

  it('a malformed Yjs update, and a sync before any join: refused, never applied', async () => {
    const bad = await attack()
    bad.send(join())
    bad.send(syncUpdate(Uint8Array.of(5, 1, 2, 3, 4, 5, 6, 7)))
    expect(await cutOff(bad)).toMatch(/malformed Yjs update/)
    const early = await attack()
    const d = new Y.Doc()
    d.getMap('m').set('early', true)
    early.send(syncUpdate(Y.encodeStateAsUpdate(d)))
    expect(await cutOff(early)).toBe('sync before a valid join: refused, not applied')
    expect(victim.state.map('m').get('early')).toBeUndefined()
    await stillSyncing()
  })

  it("forged presence (an honest node's peer id, absurd capabilities): cut off, and not believed", async () => {
    await waitFor('the honest presence reached the victim', () => victim.state.presence().has(honest.peerId))
    const caps = honest.capabilities()
    const forger = await attack()
    forger.send(join())
    forger.send(
      presence(424242, {
        peer: honest.peerId,
        caps: { ...caps, cores: 4096, gpu: true },
        load: { running: 0, queued: 0 },
      }),
    )
    expect(await cutOff(forger)).toMatch(/presence claims peer .*not its sender/)
    const absurd = await attack()
    absurd.send(join())
    absurd.send(presence(434343, { peer: absurd.id, caps: { ...caps, cores: 1e9 }, load: { running: -1 } }))
    expect(await cutOff(absurd)).toMatch(/caps\.cores must be an integer/)
    // the kernel's view (what scheduling uses) and the state's presence carry the honest node's own claims only
    expect(victim.state.presence().get(honest.peerId)?.caps).toEqual(caps)
    const views = victim.getStatus().peers
    expect(views.find((p) => p.id === honest.peerId)?.caps).toEqual(caps)
    expect(views.some((p) => p.id === absurd.id || p.caps.cores > caps.cores)).toBe(false)
    expect([...victim.state.awareness.getStates().keys()]).not.toContain(424242)
    await stillSyncing()
  })

  it('chunks that never finish a message, and broken framing: cut off', async () => {
    const x = await attack()
    x.send(join())
    const full = new Uint8Array(CHUNK_FRAME_MAX)
    full[0] = 1 // more follow, forever
    for (let i = 0; i < 600; i++) x.s.frame(full)
    expect(await cutOff(x)).toMatch(/message over 8388608 bytes|over its state allowance/)
    const raw = await attack()
    raw.s.raw(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f)) // a 4 GiB frame length
    expect(await cutOff(raw)).toMatch(/exceeds the limit/)
    await stillSyncing()
  })

  it("filling a room's document past its budget (maxDocBytes): the update that adds more is refused, the node serves on", async () => {
    const maxDocBytes = 1 << 20
    const { node: small, cut, joined } = await ownVictim({ maxDocBytes })
    try {
      const x = await joined()
      const updates = textInserts('fill', 3, 600_000)
      for (const u of updates) x.send(syncUpdate(u))
      await waitFor('the filler cut off', () => cut.some((r) => r.peer === x.id))
      await x.stop()
      expect(cut.find((r) => r.peer === x.id)?.reason).toMatch(
        /^the room's document is full \(\d+ bytes from peers, maxDocBytes 1048576\)/,
      )
      // two updates taken (the budget is checked before each), the third not
      expect(small.state.text('fill').length).toBe(1_200_000)
      expect(small.state.bytesFromPeers).toBeLessThanOrEqual(maxDocBytes + updates[1].length)
      // the node still serves a new peer what it holds (a sync of what it already has adds nothing)
      const y = await joined()
      y.send(syncUpdate(updates[0]))
      // and a deletion, which adds no content: once the node shows it, both were taken
      const del = new Y.Doc()
      for (const u of updates.slice(0, 2)) Y.applyUpdate(del, u)
      const sv = Y.encodeStateVector(del)
      del.getText('fill').delete(0, 10)
      y.send(syncUpdate(Y.encodeStateAsUpdate(del, sv)))
      await waitFor('the deletion applied', () => small.state.text('fill').length === 1_200_000 - 10)
      expect(cut.some((r) => r.peer === y.id)).toBe(false)
      expect(small.state.peers()).toContain(y.id)
      await y.stop()
    } finally {
      await small.stop()
    }
  })

  it('updates held back until the one they wait for comes, past maxDocBytes: refused before any is applied', async () => {
    const maxDocBytes = 1 << 20
    const { node: small, cut, joined } = await ownVictim({ maxDocBytes, maxPendingBytes: 4 << 20 })
    try {
      const x = await joined()
      const updates = textInserts('gap', 6, 300_000)
      // all but the first, which would release them all at once, then the first
      for (const u of [...updates.slice(1), updates[0]]) x.send(syncUpdate(u))
      await waitFor('the sender cut off', () => cut.some((r) => r.peer === x.id))
      await x.stop()
      expect(cut.find((r) => r.peer === x.id)?.reason).toMatch(
        /^the room's document is full \(\d+ bytes from peers, maxDocBytes 1048576\)/,
      )
      // what waits counted as taken: the gap was never filled, nothing landed
      expect(small.state.text('gap').length).toBe(0)
      expect(small.state.bytesFromPeers).toBe(0)
    } finally {
      await small.stop()
    }
  })

  it('updates that wait forever for ones they depend on (maxPendingBytes): dropped, the sender cut off', async () => {
    const { node: small, cut, joined } = await ownVictim({ maxPendingBytes: 64 << 10 })
    try {
      const x = await joined()
      const updates = textInserts('dangling', 40, 4_000)
      // the first never comes: every later one waits for it
      for (const u of updates.slice(1)) x.send(syncUpdate(u))
      await waitFor('the sender cut off', () => cut.some((r) => r.peer === x.id))
      await x.stop()
      expect(cut.find((r) => r.peer === x.id)?.reason).toMatch(/passed maxPendingBytes \(\d+ > 65536\): dropped$/)
      expect(small.state.doc.store.pendingStructs).toBeNull()
      expect(small.state.text('dangling').length).toBe(0)
    } finally {
      await small.stop()
    }
  })

  it('no unhandled error in the victim process', () => {
    expect(unhandled.errors).toEqual([])
  })
})
