import { prng, testSeed } from '@peercompute/kernels/testing'
import { describe, expect, it } from 'vitest'
import { PayloadTooLargeError, ProtocolError } from '../../../errors.js'
import { decodeBatch, encodeLeading, encodeValues, MAX_BATCH_ITEMS } from './batch-codec.js'

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
    // all JSON: format 2, the array's JSON text as TextEncoder makes it (ASCII or not)
    const json = encodeValues(values)
    expect(decodeBatch(json)).toEqual(values)
    expect(Buffer.from(json).toString('hex')).toBe(
      Buffer.concat([
        Buffer.from([2, 0, 0, 0, values.length]),
        new TextEncoder().encode(JSON.stringify(values)),
      ]).toString('hex'),
    )
    // with a bytes item: format 1, each entry's bytes what TextEncoder makes of its JSON, whichever path encoded it
    const framed = [...values, new Uint8Array(1)]
    const batch = encodeValues(framed)
    expect(batch[0]).toBe(1)
    expect(decodeBatch(batch)).toEqual(framed)
    const want = values.map((v) => new TextEncoder().encode(JSON.stringify(v)))
    expect(batch.length).toBe(5 + want.reduce((n, b) => n + 5 + b.length, 0) + 6)
    expect(Buffer.from(batch).includes(Buffer.from(want[4]))).toBe(true)
    // a short entry with a lone continuation byte, and one with an overlong encoding: not UTF-8
    for (const bad of [
      [0x22, 0x80, 0x22],
      [0x22, 0xc0, 0xaf, 0x22],
    ])
      expect(() => decodeBatch(Uint8Array.from([1, 0, 0, 0, 1, 0, 0, 0, 0, bad.length, ...bad]))).toThrow(
        /entry 0 is malformed/,
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

  it('refuses malformed format-2 batches with ProtocolError: not an array, a count its text disagrees with, bad UTF-8', () => {
    const b2 = (count: number, text: string | number[]) =>
      Uint8Array.from([2, 0, 0, count >> 8, count & 0xff, ...(typeof text === 'string' ? Buffer.from(text) : text)])
    expect(decodeBatch(b2(3, '[1,"a",{}]'))).toEqual([1, 'a', {}])
    expect(decodeBatch(b2(0, '[]'))).toEqual([])
    const bad: Array<[Uint8Array, RegExp]> = [
      [b2(1, '{"0":1}'), /no JSON array of 1/],
      [b2(1, '77'), /no JSON array/],
      [b2(2, '[1,2,3]'), /no JSON array of 2/],
      [b2(3, '[1, 2]'), /no JSON array of 3/],
      [b2(2, '[1,2'), /no JSON array/],
      [b2(1, [0x5b, 0x22, 0xc0, 0xaf, 0x22, 0x5d]), /no JSON array/],
      [b2(300, '[1,2,3]'), /not a batch \(version 2, 300 items\)/], // refused before any parsing
      [Uint8Array.from([2, 0xff, 0xff, 0xff, 0xff, 0x5b, 0x5d]), /not a batch/],
    ]
    for (const [b, why] of bad) {
      expect(() => decodeBatch(b)).toThrow(ProtocolError)
      expect(() => decodeBatch(b)).toThrow(why)
    }
    expect(() => decodeBatch(b2(3, '[1,"a",{}]'), 4)).toThrow(/3 values where 4/)
  })

  it('encodeLeading: the leading values that fit, format 2 where all are JSON; one too large is refused', () => {
    const values = Array.from({ length: 1000 }, (_, i) => `${i}`)
    const all = encodeLeading(values, 1 << 20)
    expect(all.count).toBe(1000)
    expect(all.batch[0]).toBe(2)
    expect(encodeLeading([1, 2, 3], 1 << 20).batch[0]).toBe(3)
    const part = encodeLeading(values, 1000)
    expect(part.count).toBeGreaterThan(0)
    expect(part.count).toBeLessThan(1000)
    expect(part.batch.length).toBeLessThanOrEqual(1000)
    expect(decodeBatch(part.batch)).toEqual(values.slice(0, part.count))
    const bytes = encodeLeading([Uint8Array.of(1, 2), Uint8Array.of(3), 5], 19)
    expect(bytes.count).toBe(1) // 3 (25 bytes) do not fit, 1 (12) does
    expect(decodeBatch(bytes.batch)).toEqual([Uint8Array.of(1, 2)])
    expect(() => encodeLeading(['x'.repeat(100)], 50)).toThrow(PayloadTooLargeError)
    expect(() => encodeLeading([new Uint8Array(100)], 50)).toThrow(PayloadTooLargeError)
  })

  it('format 3: a batch of finite numbers is their little-endian float64s; -0 travels as 0; NaN and Infinity make it format 2', () => {
    const r = prng(SEED + 2)
    const values = Array.from({ length: 500 }, (_, i) =>
      i % 4 === 0 ? r.int(1 << 30) : i % 4 === 1 ? -(1 + r.int(1000)) / 7 : i % 4 === 2 ? 2 ** 53 + i * 2 : 1e-300 * i,
    )
    const b = encodeValues(values)
    expect(b[0]).toBe(3)
    expect(b.length).toBe(8 + 8 * values.length)
    expect([...b.subarray(1, 8)]).toEqual([0, 0, 1, 0xf4, 0, 0, 0])
    expect(new DataView(b.buffer).getFloat64(8 + 8 * 7, true)).toBe(values[7])
    expect(decodeBatch(b, values.length)).toEqual(values)
    // read at any alignment (a batch inside a bigger buffer)
    const shifted = new Uint8Array(b.length + 3)
    shifted.set(b, 3)
    expect(decodeBatch(shifted.subarray(3), values.length)).toEqual(values)
    // a Node Buffer inside a bigger one (as the network hands bytes over): its own slice() is a view
    const pooled = Buffer.alloc(b.length + 13)
    pooled.set(b, 5)
    expect(decodeBatch(pooled.subarray(5, 5 + b.length), values.length)).toEqual(values)
    const zero = decodeBatch(encodeValues([-0, 1]))[0]
    expect(Object.is(zero, 0)).toBe(true) // as JSON.stringify(-0) is "0"
    expect(encodeValues([1, Number.NaN])[0]).toBe(2)
    expect(decodeBatch(encodeValues([1, Number.POSITIVE_INFINITY]))).toEqual([1, null]) // as JSON would
    expect(encodeValues([1, '2'])[0]).toBe(2)
    expect(encodeValues([])[0]).toBe(2)
    expect(Buffer.from(encodeValues([7, 0.5])).toString('hex')).toBe(
      '0300000002000000' + '0000000000001c40' + '000000000000e03f',
    )
  })

  it('refuses malformed format-3 batches with ProtocolError: a length other than 8 + 8 × count, padding, NaN, Infinity', () => {
    const good = encodeValues([1, 2, 3])
    const nan = good.slice()
    new DataView(nan.buffer).setFloat64(16, Number.NaN, true)
    const inf = good.slice()
    new DataView(inf.buffer).setFloat64(24, Number.NEGATIVE_INFINITY, true)
    const padded = good.slice()
    padded[6] = 1
    const bad: Array<[Uint8Array, RegExp]> = [
      [good.subarray(0, good.length - 1), /is not 32 bytes/],
      [Uint8Array.from([...good, 0]), /is not 32 bytes/],
      [padded, /is not 32 bytes/],
      [nan, /value 1 is not a finite number/],
      [inf, /value 2 is not a finite number/],
      [Uint8Array.from([3, 0, 1, 0, 0, 0, 0, 0]), /not a batch \(version 3, 65536 items\)/],
    ]
    for (const [b, why] of bad) {
      expect(() => decodeBatch(b)).toThrow(ProtocolError)
      expect(() => decodeBatch(b)).toThrow(why)
    }
    expect(() => decodeBatch(good, 2)).toThrow(/3 values where 2/)
  })

  it('PROTOCOL.md\'s example of format 2: the items 7 and "a"', () => {
    expect(Buffer.from(encodeValues([7, 'a'])).toString('hex')).toBe(
      `0200000002${Buffer.from('[7,"a"]').toString('hex')}`,
    )
  })

  it("PROTOCOL.md's example: the items 7 and the bytes 01 02", () => {
    const hex = Buffer.from(encodeValues([7, Uint8Array.from([1, 2])])).toString('hex')
    expect(hex).toBe(['01', '00000002', '00', '00000001', '37', '01', '00000002', '0102'].join(''))
  })

  it('refuses what cannot travel', () => {
    expect(() => encodeValues([undefined])).toThrow(TypeError)
    expect(() => encodeValues([1, () => 1])).toThrow(TypeError)
    expect(() => encodeValues([{ n: 1n }])).toThrow(TypeError)
    const cyc: Record<string, unknown> = {}
    cyc.self = cyc
    expect(() => encodeValues([cyc])).toThrow(TypeError)
  })
})
