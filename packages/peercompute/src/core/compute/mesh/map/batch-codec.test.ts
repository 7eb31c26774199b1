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
