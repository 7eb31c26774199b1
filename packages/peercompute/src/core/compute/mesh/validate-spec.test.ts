import { describe, expect, it } from 'vitest'
import { validateSpec } from './validate-spec.js'

const data = new Uint8Array(8)

describe('validateSpec', () => {
  it('peerGraceMs: a finite number of ms ≥ 0, or a RangeError naming it', () => {
    expect(() => validateSpec({ op: 'crc32c', data, peerGraceMs: 0 })).not.toThrow()
    expect(() => validateSpec({ op: 'crc32c', data, peerGraceMs: 1500.5 })).not.toThrow()
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, '10' as unknown as number])
      expect(() => validateSpec({ op: 'crc32c', data, peerGraceMs: bad })).toThrow(
        new RangeError(`peerGraceMs must be a number of ms ≥ 0; got ${String(bad)}`),
      )
  })
})
