import * as encoding from 'lib0/encoding'
import { describe, expect, it } from 'vitest'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import { CHUNK_FRAME_MAX, toChunks } from '../wire/chunks.js'
import { TokenBucket } from './limits.js'
import { encodeStateMessage, type StateMessage } from './messages.js'
import { persistState } from './persistence.js'
import { type StateLink, StateManager, type StateManagerInit } from './state-manager.js'

/** Two StateManagers linked in memory (asynchronous, ordered delivery). */
function link(a: StateManager, aId: string, b: StateManager, bId: string) {
  const inbox = new Map<StateManager, (f: Uint8Array) => void>()
  const closers: Array<() => void> = []
  let open = true
  const end = (self: StateManager, other: StateManager, otherId: string): StateLink => ({
    remotePeer: otherId,
    send: (f) => {
      const copy = f.slice()
      if (open) setTimeout(() => open && inbox.get(other)?.(copy), 0)
    },
    onMessage: (cb) => inbox.set(self, cb),
    onClose: (cb) => closers.push(cb),
    close: () => {
      if (!open) return
      open = false
      for (const c of closers) c()
    },
  })
  a.attach(end(a, b, bId))
  b.attach(end(b, a, aId))
  return { close: () => end(a, b, bId).close() }
}

/** An attacker's link to `victim`: `send` delivers frames synchronously; `closed` once the victim hangs up. */
function attacker(victim: StateManager, peer: string) {
  let deliver: (f: Uint8Array) => void = () => {}
  const st = { closed: false, reason: undefined as string | undefined }
  victim.attach({
    remotePeer: peer,
    send: () => {},
    onMessage: (cb) => {
      deliver = cb
    },
    onClose: () => {},
    close: (reason) => {
      st.closed = true
      st.reason = reason
    },
  })
  const send = (m: StateMessage) => {
    for (const f of toChunks(encodeStateMessage(m))) if (!st.closed) deliver(f)
  }
  return {
    st,
    send,
    frame: (f: Uint8Array) => deliver(f),
    join: () => send({ kind: 'join', room: 'room', proof: new Uint8Array(0) }),
  }
}

const node = (selfId: string, init: Partial<StateManagerInit> = {}) =>
  new StateManager({ room: 'room', selfId, ...init })
const tick = () => new Promise((r) => setTimeout(r, 0))
const until = async (what: string, cond: () => boolean) => {
  for (let i = 0; i < 2000 && !cond(); i++) await new Promise((r) => setTimeout(r, 2))
  if (!cond()) throw new Error(`timed out waiting for ${what}`)
}
const refusals = (s: StateManager) => {
  const out: string[] = []
  s.addEventListener('state:refused', (e) => out.push(`${e.detail.peer}: ${e.detail.reason}`))
  return out
}
/** A sync `update` message carrying `update`. */
const syncUpdate = (update: Uint8Array): StateMessage => {
  const e = encoding.createEncoder()
  syncProtocol.writeUpdate(e, update)
  return { kind: 'sync', payload: encoding.toUint8Array(e) }
}
/** Small valid Yjs updates from a document of the attacker's own. */
const smallUpdates = (n: number) => {
  const d = new Y.Doc()
  const out: Uint8Array[] = []
  d.on('update', (u: Uint8Array) => out.push(u))
  for (let i = 0; i < n; i++) d.getMap('spam').set(`k${i % 10}`, i)
  return out
}
/** The updates of `n` inserts of `size` characters at the start of text `t` (each depends on the one before). */
const textInserts = (n: number, size: number) => {
  const d = new Y.Doc()
  const out: Uint8Array[] = []
  d.on('update', (u: Uint8Array) => out.push(u))
  for (let i = 0; i < n; i++) d.getText('t').insert(0, `${i % 10}`.repeat(size))
  return out
}
/** An awareness message for `clientID` with `state`. */
const awareness = (clientID: number, state: unknown, clock = 1): StateMessage => {
  const e = encoding.createEncoder()
  encoding.writeVarUint(e, 1)
  encoding.writeVarUint(e, clientID)
  encoding.writeVarUint(e, clock)
  encoding.writeVarString(e, JSON.stringify(state))
  return { kind: 'awareness', payload: encoding.toUint8Array(e) }
}
const caps = {
  cores: 4,
  memoryMb: 1024,
  gpu: false,
  kernels: ['xor'],
  substrate: 'node',
  price: { model: 'free', usd: 0 },
}

/** Victim `a` and honest `b`, linked and joined, with a map edit that must keep flowing. */
async function honestPair(init: Partial<StateManagerInit> = {}) {
  const a = node('peer-a', init)
  const b = node('peer-b', init)
  link(a, 'peer-a', b, 'peer-b')
  await until('a and b joined', () => a.peers().includes('peer-b') && b.peers().includes('peer-a'))
  const stillSyncing = async (key: string) => {
    a.map('m').set(key, true)
    await until(`${key} reached b`, () => b.map('m').get(key) === true)
  }
  return { a, b, stillSyncing }
}

describe('StateManager bounds: what one peer, and all peers together, may send', () => {
  it('a token bucket refills at its rate up to its burst', () => {
    let t = 0
    const b = new TokenBucket(10, 20, () => t)
    expect(b.take(20)).toBe(true)
    expect(b.take(1)).toBe(false)
    t = 500
    expect(b.take(5)).toBe(true)
    expect(b.take(1)).toBe(false)
    t = 100_000
    expect(b.used()).toBe(0)
    expect(b.take(15)).toBe(true)
    expect(b.used()).toBe(0.75)
  })

  it('a flood of small valid updates: the peer is cut off (messages/s), the room keeps syncing', async () => {
    const { a, b, stillSyncing } = await honestPair({ limits: { peerMessagesBurst: 50, peerMessagesPerSecond: 1 } })
    const refused = refusals(a)
    const x = attacker(a, 'flooder')
    x.join()
    for (const u of smallUpdates(500)) x.send(syncUpdate(u))
    expect(x.st.closed).toBe(true)
    expect(refused).toEqual(['flooder: over its state allowance (1 messages/s)'])
    await stillSyncing('after-flood')
    expect(a.peers()).toEqual(['peer-b'])
    a.stop()
    b.stop()
  })

  it('a new stream does not refill a peer allowance', async () => {
    const a = node('peer-a', { limits: { peerMessagesBurst: 50, peerMessagesPerSecond: 1 } })
    const refused = refusals(a)
    const updates = smallUpdates(60)
    const first = attacker(a, 'reopener')
    first.join()
    for (const u of updates.slice(0, 40)) first.send(syncUpdate(u))
    expect(first.st.closed).toBe(false)
    const second = attacker(a, 'reopener') // the same peer id again
    second.join()
    for (const u of updates.slice(40)) second.send(syncUpdate(u))
    expect(second.st.closed).toBe(true)
    expect(refused).toEqual(['reopener: over its state allowance (1 messages/s)'])
    a.stop()
  })

  it('one huge update over the byte allowance, and half messages that never end: cut off, memory given back', async () => {
    const limits = { peerBytesBurst: 100_000, maxMessageBytes: 1 << 20, nodeReassemblyBytes: 200_000 }
    const { a, b, stillSyncing } = await honestPair({ limits })
    const refused = refusals(a)
    const big = attacker(a, 'bloater')
    big.join()
    const d = new Y.Doc()
    d.getText('t').insert(0, 'x'.repeat(300_000))
    big.send(syncUpdate(Y.encodeStateAsUpdate(d)))
    expect(big.st.closed).toBe(true)
    // three peers hold 80-115 KiB each of messages they never finish: past the node-wide bound, the one holding most goes
    const full = new Uint8Array(CHUNK_FRAME_MAX).fill(1, 0, 1)
    const partial = ['p1', 'p2', 'p3'].map((id) => attacker(a, id))
    for (const [i, p] of partial.entries()) {
      p.join()
      for (let k = 0; k < 5 + Math.min(i, 1); k++) if (!p.st.closed) p.frame(full)
    }
    expect(partial.map((p) => p.st.closed)).toEqual([false, true, false])
    // a chunk that is not full although more follow
    const odd = attacker(a, 'odd')
    odd.frame(Uint8Array.of(1, 2, 3))
    expect(odd.st.closed).toBe(true)
    expect(refused).toEqual([
      'bloater: over its state allowance (2097152 bytes/s)',
      'p2: node-wide reassembly budget exhausted; this peer holds most',
      'odd: a chunk with more to follow carries 2 bytes, not 16383',
    ])
    await stillSyncing('after-bloat')
    expect(b.text('t').length).toBe(0)
    a.stop()
    b.stop()
  })

  it('all peers together over the node-wide bound: the busiest is cut off, not the quiet honest one', async () => {
    const limits = {
      peerMessagesBurst: 100,
      nodeMessagesBurst: 120,
      nodeMessagesPerSecond: 1,
      peerMessagesPerSecond: 1,
    }
    const { a, b, stillSyncing } = await honestPair({ limits })
    const refused = refusals(a)
    const updates = smallUpdates(99)
    const x1 = attacker(a, 'sybil-1')
    const x2 = attacker(a, 'sybil-2')
    x1.join()
    x2.join()
    for (const u of updates.slice(0, 40)) x1.send(syncUpdate(u))
    for (const u of updates) x2.send(syncUpdate(u))
    expect(refused).toEqual(['sybil-2: node-wide state messages budget exhausted; this peer sends most'])
    expect(x1.st.closed).toBe(false)
    await stillSyncing('after-sybils')
    expect(refused[1]).toBe('sybil-1: node-wide state messages budget exhausted; this peer sends most')
    expect(refused).toHaveLength(2) // the honest peer, using little of its own allowance, stays
    a.stop()
    b.stop()
  })

  it('no join in time, messages before a join, and more peers than allowed are refused', async () => {
    const a = node('peer-a', { joinTimeoutMs: 20, limits: { maxSessions: 2 } })
    const refused = refusals(a)
    const silent = attacker(a, 'silent')
    const member = attacker(a, 'member')
    member.join()
    const third = attacker(a, 'third')
    await until('the silent peer was cut off', () => silent.st.closed)
    expect([third.st.closed, member.st.closed]).toEqual([true, false])
    const b = node('peer-b')
    const early = attacker(b, 'early')
    early.send(syncUpdate(smallUpdates(1)[0]))
    expect(early.st.closed).toBe(true)
    expect(refused).toEqual(['third: too many peers linked', 'silent: no valid join in time'])
    expect(early.st.reason).toBe('sync before a valid join: refused, not applied')
    a.stop()
    b.stop()
  })
})

describe('presence: only what a peer says of itself, over its own session, validated', () => {
  it('forged presence (an honest peer id, absurd capabilities, another client) cuts the sender off and is not believed', async () => {
    const { a, b, stillSyncing } = await honestPair()
    b.setPresence({ caps, load: { running: 0, queued: 0 } })
    await until('b presence at a', () => a.presence().get('peer-b')?.caps?.cores === 4)
    const refused = refusals(a)
    const attacks: Array<[string, StateMessage]> = [
      ['forger', awareness(1001, { peer: 'peer-b', caps: { ...caps, cores: 4096 } })],
      ['absurd', awareness(1002, { peer: 'absurd', caps: { ...caps, cores: 1e9 } })],
      ['hijack', awareness(b.doc.clientID, { peer: 'hijack', caps }, 99)],
      ['self', awareness(a.doc.clientID, { peer: 'self' }, 99)],
      ['garbage', { kind: 'awareness', payload: Uint8Array.of(1, 5, 1, 200, 1) }],
      ['huge', awareness(1003, { peer: 'huge', pad: 'x'.repeat(20_000) })],
    ]
    for (const [id, m] of attacks) {
      const x = attacker(a, id)
      x.join()
      x.send(m)
      expect(x.st.closed, id).toBe(true)
    }
    expect(refused.map((r) => r.split(':')[0])).toEqual(attacks.map(([id]) => id))
    expect(refused[0]).toMatch(/presence claims peer peer-b, not its sender/)
    expect(refused[1]).toMatch(/caps\.cores must be an integer/)
    expect(a.presence().get('peer-b')?.caps?.cores).toBe(4)
    expect([...a.presence().keys()].sort()).toEqual(['peer-a', 'peer-b'])
    await stillSyncing('after-forgery')
    a.stop()
    b.stop()
  })

  it('presence is not relayed: in a line a - b - c, a never sees c; a peer that leaves takes its presence along', async () => {
    const [a, b, c] = [node('a'), node('b'), node('c')]
    link(a, 'a', b, 'b')
    const bc = link(b, 'b', c, 'c')
    for (const [s, id] of [
      [a, 'a'],
      [b, 'b'],
      [c, 'c'],
    ] as const)
      s.setPresence({ caps, load: { running: 0, queued: 0 }, id })
    await until('b sees a and c', () => b.presence().has('a') && b.presence().has('c'))
    c.map('m').set('from-c', 1)
    await until('the edit from c reached a', () => a.map('m').get('from-c') === 1)
    await tick()
    expect([...a.presence().keys()].sort()).toEqual(['a', 'b'])
    expect(a.awareness.getStates().size).toBe(2)
    bc.close()
    expect(b.presence().has('c')).toBe(false)
    expect(b.awareness.getStates().size).toBe(2)
    for (const s of [a, b, c]) s.stop()
  })

  it('an awareness state without a peer id is an app state: kept, but never presence', async () => {
    const { a, b } = await honestPair()
    b.awareness.setLocalState({ cursor: 3 })
    await until('the state reached a', () => a.awareness.getStates().get(b.doc.clientID)?.cursor === 3)
    expect(a.presence().has('peer-b')).toBe(false)
    expect(awarenessProtocol.encodeAwarenessUpdate(a.awareness, [b.doc.clientID]).length).toBeGreaterThan(0)
    a.stop()
    b.stop()
  })
})

describe('StateManager: the document budget (maxDocBytes)', () => {
  it("a room's document full (maxDocBytes): new content from a peer is refused, copies and deletions are not", async () => {
    const maxDocBytes = 50_000
    const a = node('peer-a', { limits: { maxDocBytes } })
    const b = node('peer-b') // default budget: the victim's own edits still reach it
    link(a, 'peer-a', b, 'peer-b')
    await until('a and b joined', () => a.peers().includes('peer-b') && b.peers().includes('peer-a'))
    const refused = refusals(a)
    const filler = attacker(a, 'filler')
    filler.join()
    const updates = textInserts(3, 30_000)
    // the first two are taken (the budget is checked before each: it can be passed by one message)
    filler.send(syncUpdate(updates[0]))
    filler.send(syncUpdate(updates[1]))
    expect(filler.st.closed).toBe(false)
    expect(a.bytesFromPeers).toBeGreaterThanOrEqual(maxDocBytes)
    expect(a.bytesFromPeers).toBeLessThanOrEqual(maxDocBytes + updates[1].length)
    // a copy of what the document holds adds nothing: taken from another peer, nothing counted
    const copier = attacker(a, 'copier')
    copier.join()
    const before = a.bytesFromPeers
    copier.send(syncUpdate(updates[0]))
    expect(a.bytesFromPeers).toBe(before)
    // a deletion adds no content either
    const del = new Y.Doc()
    Y.applyUpdate(del, updates[0])
    Y.applyUpdate(del, updates[1])
    const sv = Y.encodeStateVector(del)
    del.getText('t').delete(0, 10)
    copier.send(syncUpdate(Y.encodeStateAsUpdate(del, sv)))
    expect(copier.st.closed).toBe(false)
    expect(a.text('t').length).toBe(60_000 - 10)
    const full = a.bytesFromPeers
    // new content is refused, its sender cut off, and the document does not take it
    filler.send(syncUpdate(updates[2]))
    expect(filler.st.closed).toBe(true)
    expect(a.text('t').length).toBe(60_000 - 10)
    expect(a.bytesFromPeers).toBe(full)
    expect(refused).toEqual([
      `filler: the room's document is full (${full} bytes from peers, maxDocBytes ${maxDocBytes}): an update that adds to it is refused`,
    ])
    // the victim's own edits still go out
    a.map('m').set('after-full', true)
    await until('the edit reached b', () => b.map('m').get('after-full') === true)
    a.stop()
    b.stop()
  })

  it('what a document loads from storage counts against maxDocBytes', async () => {
    const d = new Y.Doc()
    d.getText('t').insert(0, 'y'.repeat(20_000))
    const stored = [Y.encodeStateAsUpdate(d)]
    const a = node('peer-a', { limits: { maxDocBytes: 10_000 } })
    const done = await persistState(a, {
      load: async () => stored,
      append: async () => {},
      compact: async () => {},
      close: async () => {},
    })
    expect(a.text('t').length).toBe(20_000)
    expect(a.bytesFromPeers).toBeGreaterThanOrEqual(20_000)
    const refused = refusals(a)
    const writer = attacker(a, 'writer')
    writer.join()
    writer.send(syncUpdate(smallUpdates(1)[0]))
    expect(writer.st.closed).toBe(true)
    expect(refused[0]).toMatch(/^writer: the room's document is full/)
    await done()
    a.stop()
  })

  it('updates that wait forever for ones they depend on (maxPendingBytes): dropped, their sender cut off', async () => {
    const { a, b, stillSyncing } = await honestPair({ limits: { maxPendingBytes: 4_000 } })
    const refused = refusals(a)
    const x = attacker(a, 'dangler')
    x.join()
    const updates = textInserts(12, 500)
    // the first never comes: each later one waits for it
    for (const u of updates.slice(1)) if (!x.st.closed) x.send(syncUpdate(u))
    expect(x.st.closed).toBe(true)
    expect(refused).toHaveLength(1)
    expect(refused[0]).toMatch(
      /^dangler: updates waiting for ones they depend on passed maxPendingBytes \(\d+ > 4000\): dropped$/,
    )
    expect(a.doc.store.pendingStructs).toBeNull()
    expect(a.text('t').length).toBe(0)
    await stillSyncing('after-dangling')
    a.stop()
    b.stop()
  })
})
