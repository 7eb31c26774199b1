// Inputs the fuzzers found that broke a decoder, kept as plain tests.
import {
  encodeStateMessage,
  FrameDecoder,
  type StateLink,
  StateManager,
  type StateMessage,
  toChunks,
} from 'peercompute'
import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'

describe('fuzz regressions', () => {
  it('frames: FrameDecoder copies what it is given, Node Buffers too', () => {
    // found by frames.decode: a Buffer's slice() shares memory, so frames were views of the stream's own buffer
    const chunk = Buffer.from([1, 0, 3])
    const dec = new FrameDecoder()
    const [frame] = dec.push(chunk)
    chunk.fill(0xee)
    expect([...frame]).toEqual([0])
    expect(Buffer.isBuffer(frame)).toBe(false)
    expect(dec.buffered).toBe(1)
    expect(dec.push(Buffer.from([7, 8, 9]))).toEqual([Uint8Array.of(7, 8, 9)])
  })

  it('state: a Yjs update that throws inside its transaction is refused without touching the document', () => {
    // found by state.manager.frames (seed 1): a step-2 update with one byte changed. Yjs integrates its
    // structs, then throws while merging its delete set: the document had a new key and emitted no more
    // updates, ever (its transaction cleanups were left behind)
    const update = Buffer.from(
      'AQfrBwAhAQFtAWsAJwEBbQZuZXN0ZWQBCAEBYQN9AXcDdHdvdgEFdGhyZWV9A4PrBwQBBAQBAXQBaIHrBwYChOsHCA9sbyBoZWxsbyBoZWxsbyAB6wcCAAEHAg==',
      'base64',
    )
    const v = victim()
    v.sm.map('m').set('own', 1)
    const before = Y.encodeStateAsUpdate(v.sm.doc)
    v.send({ kind: 'sync', payload: syncMessage(1, update) }) // y-protocols: messageYjsSyncStep2
    expect(v.refused).toHaveLength(1)
    expect(Y.encodeStateAsUpdate(v.sm.doc)).toEqual(before)
    expect(v.sm.map('m').toJSON()).toEqual({ own: 1 })
    expect(stillEmitsUpdates(v.sm)).toBe(true)
    expect(v.refused[0]).toMatch(/malformed Yjs update/)
    v.sm.stop()
  })

  it('state: an update that is fine alone but breaks with what the document holds pending does not break it', () => {
    // found by state.manager.frames (seed 20261122, input 95,393): an update whose dependencies are
    // missing waits in the document; a later update, fine on its own, then makes Yjs throw halfway
    const doc = new Y.Doc()
    doc.clientID = 1001
    doc.getMap('m').set('k', 1)
    doc.getMap('m').set('nested', new Y.Map())
    doc.getArray('a').insert(0, [1, 'two', { three: 3 }, new Uint8Array([4])])
    doc.getText('t').insert(0, 'hello ')
    const waits = Uint8Array.from([
      1, 1, 235, 7, 24, 136, 235, 7, 127, 1, 119, 5, 108, 97, 116, 101, 114, 1, 235, 7, 2, 0, 1, 7, 2,
    ])
    const later = Uint8Array.from([
      1, 7, 235, 7, 0, 33, 1, 1, 109, 1, 107, 1, 39, 1, 1, 109, 6, 110, 101, 115, 116, 101, 100, 1, 8, 1, 1, 97, 3, 125,
      1, 119, 3, 116, 119, 111, 118, 1, 5, 116, 104, 114, 101, 101, 125, 3, 131, 235, 7, 4, 1, 4, 4, 1, 1, 116, 1, 104,
      129, 235, 7, 4, 2, 132, 235, 7, 8, 15, 108, 111, 32, 104, 101, 108, 108, 111, 32, 104, 101, 108, 108, 111, 32, 1,
      235, 7, 2, 0, 1, 7, 2,
    ])
    const v = victim()
    Y.applyUpdate(v.sm.doc, Y.encodeStateAsUpdate(doc))
    v.send({ kind: 'sync', payload: syncMessage(2, waits) }) // messageYjsUpdate
    expect(v.sm.doc.store.pendingStructs).not.toBeNull()
    v.send({ kind: 'sync', payload: syncMessage(2, later) })
    expect(v.refused).toEqual([])
    expect(stillEmitsUpdates(v.sm)).toBe(true)
    v.sm.stop()
  })
})

/** A StateManager in room `r`, joined by an attacker whose messages `send` delivers. */
function victim(): { sm: StateManager; refused: string[]; send: (m: StateMessage) => void } {
  const sm = new StateManager({ room: 'r', selfId: 'victim' })
  const refused: string[] = []
  sm.addEventListener('state:refused', (e) => refused.push(e.detail.reason))
  let deliver: (frame: Uint8Array) => void = () => {}
  const link: StateLink = {
    remotePeer: 'attacker',
    send() {},
    onMessage: (cb) => {
      deliver = cb
    },
    onClose() {},
    close() {},
  }
  sm.attach(link)
  const send = (m: StateMessage) => {
    for (const frame of toChunks(encodeStateMessage(m))) deliver(frame)
  }
  send({ kind: 'join', room: 'r', proof: new Uint8Array(0) })
  return { sm, refused, send }
}

/** Whether a local change is still an update (what peers and storage hear of). */
function stillEmitsUpdates(sm: StateManager): boolean {
  let updates = 0
  const count = () => updates++
  sm.doc.on('update', count)
  sm.map('m').set('later', 2)
  sm.doc.off('update', count)
  return updates === 1
}

/** A y-protocols sync message: its type, then the update with its length as a varint. */
function syncMessage(type: number, update: Uint8Array): Uint8Array {
  const len: number[] = []
  let n = update.length
  while (n > 0x7f) {
    len.push((n & 0x7f) | 0x80)
    n >>>= 7
  }
  len.push(n)
  return Uint8Array.from([type, ...len, ...update])
}
