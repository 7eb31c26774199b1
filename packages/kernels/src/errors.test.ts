import { describe, expect, it } from 'vitest'
import { alloc, crc32c, crc32cCombine, createCrc32c, createFnv64, getKernels, ready } from './index.js'

await ready()

describe.each(['wasm', 'js'] as const)('bad input is rejected with a named argument (%s)', (backend) => {
  const k = getKernels(backend)
  const d = new Uint8Array(8)
  const bad = (fn: () => unknown, type: ErrorConstructor, msg: RegExp) => {
    expect(fn).toThrow(type)
    expect(fn).toThrow(msg)
  }

  it('data must be a Uint8Array', () => {
    bad(() => k.crc32c([1, 2, 3] as unknown as Uint8Array), TypeError, /data must be a Uint8Array, got Array/)
    bad(
      () => k.counteq(new Uint16Array(4) as unknown as Uint8Array, 1),
      TypeError,
      /data must be a Uint8Array, got Uint16Array/,
    )
    bad(() => k.fnv64('abc' as unknown as Uint8Array), TypeError, /data must be a Uint8Array, got string/)
    bad(() => k.add(null as unknown as Uint8Array, 1), TypeError, /data .* got null/)
  })

  it('imm must be an integer byte', () => {
    bad(() => k.counteq(d, 256), RangeError, /imm must be in 0..255, got 256/)
    bad(() => k.add(d, -1), RangeError, /imm must be in 0..255/)
    bad(() => k.add(d, 1.5), TypeError, /imm must be an integer, got number 1.5/)
    bad(() => k.counteq(d, Number.NaN), TypeError, /imm must be an integer/)
  })

  it('keys, seeds and outputs are checked', () => {
    bad(() => k.xor(d, new Uint8Array(0)), RangeError, /key must not be empty/)
    bad(() => k.xor(d, 300), RangeError, /key must be in 0..255/)
    bad(() => k.crc32c(d, -1), RangeError, /seed must be in 0..4294967295/)
    bad(() => k.fnv64(d, 1 as unknown as bigint), TypeError, /seed must be a bigint/)
    bad(() => k.fnv64(d, 1n << 64n), RangeError, /seed must be in 0..2\^64-1/)
    bad(() => k.add(d, 1, new Uint8Array(7)), RangeError, /out must have the same length as data \(8\), got 7/)
    const big = new Uint8Array(16)
    bad(() => k.add(big.subarray(0, 8), 1, big.subarray(4, 12)), RangeError, /out overlaps data/)
  })
})

describe('other entry points', () => {
  it('crc32cCombine and hashers validate', () => {
    expect(() => crc32cCombine(1, 2, -1)).toThrow(/lengthB must be in/)
    expect(() => crc32cCombine(2 ** 32, 2, 1)).toThrow(/crcA must be in/)
    expect(() => createCrc32c(1.5)).toThrow(TypeError)
    expect(() => createFnv64(-1n)).toThrow(RangeError)
    expect(() => alloc(-1)).toThrow(/byteLength must be in/)
  })

  it('a view detached by memory growth is refused, not read as empty', () => {
    const a = alloc(16)
    const view = a.bytes
    view.fill(1)
    const huge = alloc(8 << 20) // grows wasm memory: old views detach
    expect(() => crc32c(view)).toThrow(/detached/)
    expect(crc32c(a.bytes)).toBe(crc32c(new Uint8Array(16).fill(1)))
    huge.free()
    a.free()
    expect(() => a.bytes).toThrow(/after free/)
    expect(() => a.free()).toThrow(/freed twice/)
  })
})
