// Inputs the fuzzers found that broke a decoder, kept as plain tests.
import { encodeStateMessage, FrameDecoder, type StateLink, StateManager, toChunks } from 'peercompute'
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
    const sm = new StateManager({ room: 'r', selfId: 'victim' })
    sm.map('m').set('own', 1)
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
    const before = Y.encodeStateAsUpdate(sm.doc)
    const sync = Uint8Array.of(1, ...lengthPrefixed(update)) // y-protocols: messageYjsSyncStep2, then the update
    for (const m of [
      encodeStateMessage({ kind: 'join', room: 'r', proof: new Uint8Array(0) }),
      encodeStateMessage({ kind: 'sync', payload: sync }),
    ])
      for (const frame of toChunks(m)) deliver(frame)
    expect(refused).toHaveLength(1)
    expect(Y.encodeStateAsUpdate(sm.doc)).toEqual(before)
    expect(sm.map('m').toJSON()).toEqual({ own: 1 })
    let updates = 0
    sm.doc.on('update', () => updates++)
    sm.map('m').set('later', 2)
    expect(updates).toBe(1)
    expect(refused[0]).toMatch(/malformed Yjs update/)
    sm.stop()
  })
})

/** `b` after its length as a varint (lib0's writeVarUint8Array). */
function lengthPrefixed(b: Uint8Array): number[] {
  const out: number[] = []
  let n = b.length
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80)
    n >>>= 7
  }
  out.push(n)
  return [...out, ...b]
}
