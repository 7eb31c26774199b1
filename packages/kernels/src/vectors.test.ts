import { describe, expect, it } from 'vitest'
import { type Backend, FNV64_OFFSET, getKernels, ready } from './index.js'

const ascii = (s: string) => new TextEncoder().encode(s)

await ready()

describe.each<Backend>(['wasm', 'js'])('published vectors (%s)', (backend) => {
  const k = getKernels(backend)

  it('CRC-32C matches RFC 3720 B.4 and the check value', () => {
    expect(k.crc32c(new Uint8Array(32))).toBe(0x8a9136aa)
    expect(k.crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43)
    expect(k.crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e)
    expect(k.crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c)
    expect(k.crc32c(ascii('123456789'))).toBe(0xe3069283)
    expect(k.crc32c(new Uint8Array(0))).toBe(0)
  })

  it('FNV-1a 64 matches the FNV reference test suite', () => {
    const vectors: Array<[string, bigint]> = [
      ['', 0xcbf29ce484222325n],
      ['a', 0xaf63dc4c8601ec8cn],
      ['b', 0xaf63df4c8601f1a5n],
      ['c', 0xaf63de4c8601eff2n],
      ['d', 0xaf63d94c8601e773n],
      ['e', 0xaf63d84c8601e5c0n],
      ['f', 0xaf63db4c8601ead9n],
      ['fo', 0x08985907b541d342n],
      ['foo', 0xdcb27518fed9d577n],
      ['foob', 0xdd120e790c2512afn],
      ['fooba', 0xcac165afa2fef40an],
      ['foobar', 0x85944171f73967e8n],
    ]
    for (const [s, h] of vectors) expect(k.fnv64(ascii(s)), JSON.stringify(s)).toBe(h)
    expect(k.fnv64(new Uint8Array(0), 42n)).toBe(42n)
    expect(FNV64_OFFSET).toBe(0xcbf29ce484222325n)
  })

  it('counteq, xor and add on small known inputs', () => {
    expect(k.counteq(Uint8Array.of(1, 2, 1, 1, 0), 1)).toBe(3)
    expect(k.counteq(new Uint8Array(0), 0)).toBe(0)
    expect([...k.xor(Uint8Array.of(0, 1, 2, 3, 4), Uint8Array.of(0xff, 0x0f))]).toEqual([0xff, 0x0e, 0xfd, 0x0c, 0xfb])
    expect([...k.xor(Uint8Array.of(1, 2), 3)]).toEqual([2, 1])
    expect([...k.add(Uint8Array.of(0, 200, 255), 100)]).toEqual([100, 44, 99])
  })
})
