import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { base64Length, fromBase64, toBase64 } from './base64.js'

describe('base64 (no Buffer, no atob: the handlers run in workerd too)', () => {
  it('round-trips any bytes and agrees with Node’s Buffer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100_000 }), (bytes) => {
        const text = toBase64(bytes)
        expect(text).toBe(Buffer.from(bytes).toString('base64'))
        expect(text.length).toBe(base64Length(bytes.length))
        expect(fromBase64(text)).toEqual(bytes)
      }),
      { numRuns: 200, seed: 0x6a7e },
    )
  })

  it('refuses what is not base64', () => {
    for (const bad of ['A', 'AB=C', '!!!!', 'AAAA===', 'ÿÿÿÿ', 'AA AA']) expect(fromBase64(bad), bad).toBeUndefined()
    expect(fromBase64('')).toEqual(new Uint8Array(0))
    expect(fromBase64('AAE')).toEqual(new Uint8Array([0, 1]))
  })
})
