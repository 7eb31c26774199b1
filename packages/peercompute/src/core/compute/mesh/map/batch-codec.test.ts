import { prng, testSeed } from '@peercompute/kernels/testing'
import { describe, expect, it } from 'vitest'
import { ProtocolError } from '../../../errors.js'
import { decodeBatch, encodeValues, MAX_BATCH_ITEMS } from './batch-codec.js'

const SEED = testSeed(0x3a9)

describe(`map batch codec (SEED=${SEED})`, () => {
  it('round-trips JSON, bytes and bigints in order', () => {
    const r = prng(SEED)
    const values = Array.from({ length: 200 }, (_, i) =>
      i % 3 === 0 ? r.bytes(r.int(50)) : i % 3 === 1 ? { i, s: 'é', a: [i, null] } : BigInt(i) * 10n ** 20n,
    )
    expect(decodeBatch(encodeValues(values), values.length)).toEqual(values)
  })

  it('short and long strings, ASCII or not, are UTF-8 on the wire; bytes that are not UTF-8 are refused', () => {
    const values = [
      '',
      'a',
      'é',
      '日本',
      '😀',
      'x'.repeat(63),
      'x'.repeat(64),
      'x'.repeat(65),
      `${'y'.repeat(70)}é`,
      -1.5e-7,
    ]
    const batch = encodeValues(values)
    expect(decodeBatch(batch)).toEqual(values)
    // each entry's bytes are what TextEncoder makes of its JSON, whichever path encoded it
    const want = values.map((v) => new TextEncoder().encode(JSON.stringify(v)))
    expect(batch.length).toBe(5 + want.reduce((n, b) => n + 5 + b.length, 0))
    expect(Buffer.from(batch).includes(Buffer.from(want[4]))).toBe(true)
    // a short entry with a lone continuation byte, and one with an overlong encoding: not UTF-8
    for (const bad of [
      [0x22, 0x80, 0x22],
      [0x22, 0xc0, 0xaf, 0x22],
    ])
      expect(() => decodeBatch(Uint8Array.from([1, 0, 0, 0, 1, 0, 0, 0, 0, bad.length, ...bad]))).toThrow(
        /not UTF-8 JSON/,
      )
  })

  it('refuses malformed batches with ProtocolError, never more', () => {
    const good = encodeValues([1, 'two', new Uint8Array([3])])
    const bad: Uint8Array[] = [
      new Uint8Array(3),
      Uint8Array.from([2, ...good.subarray(1)]),
      good.subarray(0, good.length - 1),
      Uint8Array.from([...good, 0]),
      Uint8Array.from([1, 0xff, 0xff, 0xff, 0xff]),
      Uint8Array.from([1, 0, 0, 0, 1, 9, 0, 0, 0, 0]),
      Uint8Array.from([1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0x7b]),
      Uint8Array.from([1, 0, 0, 0, 1, 2, 0, 0, 0, 1, 0x78]),
    ]
    for (const b of bad) expect(() => decodeBatch(b)).toThrow(ProtocolError)
    expect(() => decodeBatch(good, 4)).toThrow(/3 values where 4/)
    const r = prng(SEED + 1)
    for (let i = 0; i < 2000; i++) {
      const m = good.slice()
      m[r.int(m.length)] = r.int(256)
      try {
        decodeBatch(m)
      } catch (err) {
        expect(err).toBeInstanceOf(ProtocolError)
      }
    }
    expect(MAX_BATCH_ITEMS).toBe(65_536)
  })

  it("PROTOCOL.md's example: the items 7 and the bytes 01 02", () => {
    const hex = Buffer.from(encodeValues([7, Uint8Array.from([1, 2])])).toString('hex')
    expect(hex).toBe(['01', '00000002', '00', '00000001', '37', '01', '00000002', '0102'].join(''))
  })

  it('refuses what cannot travel', () => {
    expect(() => encodeValues([undefined])).toThrow(TypeError)
    const cyc: Record<string, unknown> = {}
    cyc.self = cyc
    expect(() => encodeValues([cyc])).toThrow(TypeError)
  })
})
