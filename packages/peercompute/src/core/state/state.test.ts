import { isDeepStrictEqual } from 'node:util'
import { prng, testSeed } from '@peercompute/kernels/testing'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { toChunks } from '../wire/chunks.js'
import { encodeStateMessage } from './messages.js'
import { type StateLink, StateManager, type StateManagerInit } from './state-manager.js'

/** Two ends of an in-memory link: ordered, asynchronous delivery; `cut()` drops everything from then on. */
function linkPair(a: string, b: string) {
  let open = true
  const handlers = new Map<string, { msg?: (f: Uint8Array) => void; close: Array<() => void> }>([
    [a, { close: [] }],
    [b, { close: [] }],
  ])
  let inFlight = 0
  const end = (self: string, other: string): StateLink => ({
    remotePeer: other,
    send(frame) {
      if (!open) return
      inFlight++
      const copy = frame.slice()
      setTimeout(() => {
        inFlight--
        if (open) handlers.get(other)?.msg?.(copy)
      }, 0)
    },
    onMessage(cb) {
      ;(handlers.get(self) as { msg?: (f: Uint8Array) => void }).msg = cb
    },
    onClose(cb) {
      handlers.get(self)?.close.push(cb)
    },
    close() {
      if (!open) return
      open = false
      for (const h of handlers.values()) for (const c of h.close) c()
    },
  })
  return {
    ends: [end(a, b), end(b, a)] as const,
    cut: () => end(a, b).close(),
    inFlight: () => inFlight,
    isOpen: () => open,
  }
}

/** Lets a few timer turns pass: the random schedule interleaves edits with deliveries (tests wait with `until`). */
const settle = async (rounds: number) => {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setTimeout(r, 0))
}

/** Waits for `cond` (joins involve real async crypto, not just timer rounds). */
const until = async (what: string, cond: () => boolean, ms = 5000) => {
  const t0 = Date.now()
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

function peers(n: number, init: Partial<StateManagerInit> = {}): StateManager[] {
  return Array.from({ length: n }, (_, i) => new StateManager({ room: 'room-1', selfId: `peer-${i}`, ...init }))
}

function connect(a: StateManager, b: StateManager) {
  const p = linkPair(a.doc.clientID.toString(), b.doc.clientID.toString())
  const idA = (a as unknown as { init: StateManagerInit }).init.selfId
  const idB = (b as unknown as { init: StateManagerInit }).init.selfId
  const [ea, eb] = [
    { ...p.ends[0], remotePeer: idB },
    { ...p.ends[1], remotePeer: idA },
  ]
  a.attach(ea)
  b.attach(eb)
  return p
}

const view = (s: StateManager) => ({
  map: s.map('m').toJSON(),
  array: s.array('a').toJSON(),
  text: s.text('t').toString(),
})

describe(`StateManager (SEED=${testSeed(0x51a7e)})`, () => {
  it('seeded random edits with partitions and heals: every document ends identical', async () => {
    const SEED = testSeed(0x51a7e)
    for (let round = 0; round < 3; round++) {
      const r = prng(SEED + round)
      const n = 5 + r.int(6)
      const ps = peers(n)
      const links = new Map<string, ReturnType<typeof connect>>()
      const key = (i: number, j: number) => `${Math.min(i, j)}-${Math.max(i, j)}`
      for (let i = 0; i < n; i++)
        for (let j = i + 1; j < n; j++) if (r.int(2)) links.set(key(i, j), connect(ps[i], ps[j]))
      for (let step = 0; step < 300; step++) {
        const p = ps[r.int(n)]
        switch (r.int(8)) {
          case 0:
          case 1:
            p.map('m').set(`k${r.int(20)}`, r.int(1000))
            break
          case 2:
            p.map('m').delete(`k${r.int(20)}`)
            break
          case 3: {
            const a = p.array<number>('a')
            a.insert(r.int(a.length + 1), [r.int(100)])
            break
          }
          case 4: {
            const a = p.array('a')
            if (a.length) a.delete(r.int(a.length), 1)
            break
          }
          case 5: {
            const t = p.text('t')
            t.insert(r.int(t.length + 1), String.fromCharCode(97 + r.int(26)))
            break
          }
          case 6: {
            // partition: cut a random link
            const ks = [...links.keys()]
            if (ks.length) {
              const k = ks[r.int(ks.length)]
              links.get(k)?.cut()
              links.delete(k)
            }
            break
          }
          default: {
            // heal: link a random pair that is apart
            const i = r.int(n)
            const j = r.int(n)
            if (i !== j && !links.has(key(i, j))) links.set(key(i, j), connect(ps[i], ps[j]))
          }
        }
        if (r.int(10) === 0) await settle(2)
      }
      // heal everything: a line through all peers is enough to converge
      for (let i = 0; i + 1 < n; i++) if (!links.has(key(i, i + 1))) links.set(key(i, i + 1), connect(ps[i], ps[i + 1]))
      const same = (p: StateManager) =>
        isDeepStrictEqual(view(p), view(ps[0])) &&
        Buffer.compare(Y.encodeStateVector(p.doc), Y.encodeStateVector(ps[0].doc)) === 0
      await until(`all ${n} peers converged`, () => ps.every(same))
      const first = view(ps[0])
      for (const [i, p] of ps.entries()) {
        expect(view(p), `peer ${i} of ${n}, SEED=${SEED + round}`).toEqual(first)
        expect(Y.encodeStateVector(p.doc)).toEqual(Y.encodeStateVector(ps[0].doc))
      }
      for (const p of ps) p.stop()
    }
  })

  it('a non-member is refused: its updates never reach the document (shared secret, and allow-list)', async () => {
    const [a, b] = peers(2, { membership: { secret: 'open sesame' } })
    const [intruder] = peers(1, { selfId: 'intruder', membership: { secret: 'guess' } })
    // either end may spot the wrong secret first and hang up: collect both ends' refusals
    const refused: string[] = []
    a.addEventListener('state:refused', (e) => refused.push(`${e.detail.peer}: ${e.detail.reason}`))
    intruder.addEventListener('state:refused', (e) => refused.push(`${e.detail.peer}: ${e.detail.reason}`))
    connect(a, b)
    const toIntruder = connect(a, intruder)
    intruder.map('m').set('evil', true)
    a.map('m').set('good', 1)
    // once the link is cut nothing more can cross it: the checks below are final
    await until(
      'b has the edit, the mismatch was seen and the link cut',
      () => b.map('m').get('good') === 1 && refused.length >= 1 && !toIntruder.isOpen(),
    )
    expect(b.map('m').toJSON()).toEqual({ good: 1 })
    expect(a.map('m').get('evil')).toBeUndefined()
    expect(intruder.map('m').toJSON()).toEqual({ evil: true }) // it saw nothing of the room
    expect(refused.length).toBeGreaterThanOrEqual(1)
    expect(refused.every((r) => /: wrong room secret$/.test(r))).toBe(true)
    expect(a.peers()).toEqual(['peer-1'])
    expect(intruder.peers()).toEqual([])

    const [c, d] = peers(2, { membership: { allow: ['peer-0', 'peer-1'] } })
    const [e] = peers(1, { selfId: 'stranger', membership: { allow: ['peer-0', 'stranger'] } })
    connect(c, d)
    const toStranger = connect(c, e)
    e.map('m').set('x', 1)
    await until('c and d joined, the stranger cut off', () => c.peers().length === 1 && !toStranger.isOpen())
    expect(c.map('m').get('x')).toBeUndefined()
    expect(c.peers()).toEqual(['peer-1'])
  })

  it('malformed or oversized input cuts off that peer only; the document and other peers are untouched', async () => {
    const [a, b] = peers(2, { maxMessageBytes: 64 * 1024 })
    connect(a, b)
    a.map('m').set('before', 1)
    await until('b has the first edit', () => b.map('m').get('before') === 1)
    const refused: string[] = []
    a.addEventListener('state:refused', (e) => refused.push(e.detail.reason))
    const attack = (frames: Uint8Array[]) => {
      const p = linkPair('a', 'x')
      a.attach({ ...p.ends[0], remotePeer: 'attacker' })
      for (const f of frames) p.ends[1].send(f)
      return p
    }
    const join = toChunks(encodeStateMessage({ kind: 'join', room: 'room-1', proof: new Uint8Array(0) }))
    const garbageUpdate = toChunks(encodeStateMessage({ kind: 'sync', payload: Uint8Array.of(2, 5, 1, 2, 3, 4, 5) }))
    attack([...join, ...garbageUpdate])
    attack([...toChunks(encodeStateMessage({ kind: 'sync', payload: Uint8Array.of(0, 0) }))]) // before join
    attack([Uint8Array.of(7, 1, 2)]) // bad chunk flag
    attack([...join, ...toChunks(encodeStateMessage({ kind: 'sync', payload: new Uint8Array(100_000) }))]) // oversized
    await until('four attackers refused', () => refused.length >= 4)
    expect(refused).toHaveLength(4)
    expect(refused.some((r) => /malformed Yjs update/.test(r))).toBe(true)
    expect(refused.some((r) => /before a valid join/.test(r))).toBe(true)
    expect(refused.some((r) => /chunk flag/.test(r))).toBe(true)
    expect(refused.some((r) => /message over 65536 bytes/.test(r))).toBe(true)
    expect(a.map('m').toJSON()).toEqual({ before: 1 })
    a.map('m').set('after', 2)
    await until('b has the later edit', () => b.map('m').get('after') === 2)
    expect(b.map('m').toJSON()).toEqual({ before: 1, after: 2 })
  })

  it('large updates travel in ≤16 KiB frames; versions, snapshots and presence', async () => {
    const [a, b] = peers(2)
    const frames: number[] = []
    const p = linkPair('a', 'b')
    const spy = {
      ...p.ends[0],
      remotePeer: 'peer-1',
      send: (f: Uint8Array) => {
        frames.push(f.length)
        p.ends[0].send(f)
      },
    }
    a.attach(spy)
    b.attach({ ...p.ends[1], remotePeer: 'peer-0' })
    a.setPresence({ cores: 8 })
    a.text('t').insert(0, 'x'.repeat(200_000))
    await until('b has the text and the presence', () => b.text('t').length === 200_000 && b.presence().has('peer-0'))
    expect(b.text('t').length).toBe(200_000)
    expect(Math.max(...frames)).toBeLessThanOrEqual(16 * 1024)
    expect(b.presence().get('peer-0')).toMatchObject({ peer: 'peer-0', cores: 8 })

    a.saveVersion('v1')
    a.text('t').delete(0, 199_990)
    expect(a.versionNames()).toEqual(['v1'])
    expect(a.restoreVersion('v1').getText('t').length).toBe(200_000)
    expect(a.text('t').length).toBe(10)
    const copy = new Y.Doc()
    Y.applyUpdate(copy, a.snapshot())
    expect(copy.getText('t').toString()).toBe('x'.repeat(10))
    expect(() => a.restoreVersion('nope')).toThrow(RangeError)
    expect(() => new StateManager({ room: '', selfId: 'x' })).toThrow(RangeError)
  })
})
