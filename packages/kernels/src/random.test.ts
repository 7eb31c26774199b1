import { crc32c as nativeCrc32c } from '@node-rs/crc32'
import { describe, expect, it } from 'vitest'
import { alloc, crc32cCombine, createCrc32c, createFnv64, getKernels, type Kernels, ready } from './index.js'
import { prng, testSeed } from './testing/prng.js'

await ready()
const wasmK = getKernels('wasm')
const jsK = getKernels('js')
const SEED = testSeed(0x5eed)
const MiB = 1 << 20

/** Obviously-correct references, one line each. */
function fnvRef(d: Uint8Array): bigint {
  let h = 0xcbf29ce484222325n
  for (const b of d) h = ((h ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn
  return h
}
const counteqRef = (d: Uint8Array, imm: number) => d.reduce((n, b) => n + (b === imm ? 1 : 0), 0)
const xorRef = (d: Uint8Array, key: Uint8Array) => d.map((b, i) => b ^ key[i % key.length])
const addRef = (d: Uint8Array, imm: number) => d.map((b) => (b + imm) & 0xff)

/** Random lengths 0..1 MiB, biased to the edges of the wasm blocks (8, 64, 768, 24 KiB). */
function lengths(r: ReturnType<typeof prng>, n: number): number[] {
  const edges = [0, 1, 7, 8, 9, 63, 64, 65, 767, 768, 769, 24575, 24576, 24577, MiB]
  const out = [...edges]
  for (let i = 0; i < n; i++) out.push(r.int(4) === 0 ? r.int(MiB + 1) : r.int(100_000))
  return out
}

describe(`seeded randomized kernels (SEED=${SEED})`, () => {
  const r = prng(SEED)
  const pool = r.bytes(MiB + 64)
  const cases = lengths(r, 30).map((len) => ({ len, off: r.int(32), imm: r.int(256) }))

  it.each(cases)('length $len at offset $off: wasm and JS agree with the references', ({ len, off, imm }) => {
    const d = pool.subarray(off, off + len)
    const key = r.bytes(1 + r.int(40))
    const expectCrc = nativeCrc32c(Buffer.from(d.buffer, d.byteOffset, d.length)) >>> 0
    const expectFnv = fnvRef(d)
    for (const k of [wasmK, jsK] as Kernels[]) {
      const tag = `${k === jsK ? 'js' : 'wasm'} len=${len} off=${off} SEED=${SEED}`
      expect(k.crc32c(d), tag).toBe(expectCrc)
      expect(k.fnv64(d), tag).toBe(expectFnv)
      expect(k.counteq(d, imm), tag).toBe(counteqRef(d, imm))
      expect(k.xor(d, key), tag).toEqual(xorRef(d, key))
      expect(k.add(d, imm), tag).toEqual(addRef(d, imm))
    }
  })

  it('data in wasm memory (alloc) gives the same results, zero-copy, in every out placement', () => {
    for (const { len, off, imm } of cases.slice(0, 12)) {
      const src = pool.subarray(off, off + len)
      const buf = alloc(len)
      const outBuf = alloc(len)
      buf.bytes.set(src)
      const d = buf.bytes
      const tag = `len=${len} SEED=${SEED}`
      expect(wasmK.crc32c(d), tag).toBe(jsK.crc32c(src))
      expect(wasmK.fnv64(d), tag).toBe(jsK.fnv64(src))
      expect(wasmK.counteq(d, imm), tag).toBe(jsK.counteq(src, imm))
      const want = addRef(src, imm)
      expect(wasmK.add(d, imm, outBuf.bytes), tag).toEqual(want) // wasm -> wasm
      expect(wasmK.add(d, imm, new Uint8Array(len)), tag).toEqual(want) // wasm -> outside
      expect(wasmK.add(src, imm, outBuf.bytes), tag).toEqual(want) // outside -> wasm
      const key = Uint8Array.of(9, 8, 7)
      expect(wasmK.xor(d, key, outBuf.bytes), tag).toEqual(xorRef(src, key))
      wasmK.xor(d, key, d) // in place
      expect(d, tag).toEqual(xorRef(src, key))
      buf.free()
      outBuf.free()
    }
  })

  it('in place on ordinary arrays', () => {
    const d = pool.slice(3, 3 + 100_003)
    const want = addRef(d, 77)
    for (const k of [wasmK, jsK]) {
      const c = d.slice()
      expect(k.add(c, 77, c)).toBe(c)
      expect(c).toEqual(want)
    }
  })

  it('long keys (beyond the wasm pattern area) fall back and still agree', () => {
    const d = pool.subarray(5, 5 + 200_000)
    const key = r.bytes(4099)
    expect(wasmK.xor(d, key)).toEqual(xorRef(d, key))
  })

  it('crc32cCombine equals the CRC of the concatenation', () => {
    for (let i = 0; i < 40; i++) {
      const la = r.int(3000)
      const lb = i === 0 ? 0 : r.int(i < 30 ? 3000 : MiB)
      const a = pool.subarray(0, la)
      const b = pool.subarray(la, la + lb)
      const whole = pool.subarray(0, la + lb)
      expect(crc32cCombine(wasmK.crc32c(a), jsK.crc32c(b), lb), `la=${la} lb=${lb} SEED=${SEED}`).toBe(
        jsK.crc32c(whole),
      )
    }
    // lengths beyond anything we can hash here: combining with zeros is still consistent
    const z = crc32cCombine(0x12345678, 0, 2 ** 40)
    expect(crc32cCombine(z, 0, 2 ** 40)).toBe(crc32cCombine(0x12345678, 0, 2 ** 41))
  })

  it('fnv64 and crc32c piecewise (seeded and streaming) equal whole', () => {
    for (let i = 0; i < 10; i++) {
      const len = r.int(300_000)
      const d = pool.subarray(0, len)
      const cuts = [0, ...Array.from({ length: r.int(6) }, () => r.int(len + 1)).sort((x, y) => x - y), len]
      let h: bigint | undefined
      let c = 0
      const hs = createFnv64()
      const cs = createCrc32c()
      for (let j = 0; j + 1 < cuts.length; j++) {
        const piece = d.subarray(cuts[j], cuts[j + 1])
        const k = j % 2 ? wasmK : jsK
        h = k.fnv64(piece, h)
        c = k.crc32c(piece, c)
        hs.update(piece)
        cs.update(piece)
      }
      const tag = `cuts=${cuts} SEED=${SEED}`
      expect(h, tag).toBe(fnvRef(d))
      expect(hs.digest(), tag).toBe(h)
      expect(c, tag).toBe(jsK.crc32c(d))
      expect(cs.digest(), tag).toBe(c)
    }
  })
})
