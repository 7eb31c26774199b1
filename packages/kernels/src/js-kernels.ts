import { CRC_TABLES } from './tables.js'

// The plain-JS path: used where WebAssembly is missing, and as the reference the
// wasm path is tested against. Arguments are validated by the caller (index.ts).

/** Number of bytes equal to `imm`. SWAR over 32-bit words where aligned. */
export function counteqJs(data: Uint8Array, imm: number): number {
  const n = data.length
  let i = 0
  let count = 0
  while (i < n && (data.byteOffset + i) & 3) {
    if (data[i] === imm) count++
    i++
  }
  const words = (n - i) >>> 2
  if (words > 0) {
    const w32 = new Uint32Array(data.buffer, data.byteOffset + i, words)
    const pattern = Math.imul(imm, 0x01010101)
    let w = 0
    while (w < words) {
      // byte lanes accumulate 0/1 per word; flush before any lane can pass 255
      const end = Math.min(words, w + 255)
      let acc = 0
      for (; w < end; w++) {
        const x = w32[w] ^ pattern
        // exact zero-byte test: high bit of each lane set iff that byte of x is 0
        const t = ~(((x & 0x7f7f7f7f) + 0x7f7f7f7f) | x) & 0x80808080
        acc += t >>> 7
      }
      count += (acc & 0xff) + ((acc >>> 8) & 0xff) + ((acc >>> 16) & 0xff) + (acc >>> 24)
    }
    i += words << 2
  }
  for (; i < n; i++) if (data[i] === imm) count++
  return count
}

/** CRC-32C, slicing-by-8. `crc` is a finished CRC to continue from (0 to start). */
export function crc32cJs(data: Uint8Array, crc: number): number {
  const t = CRC_TABLES
  let c = ~crc >>> 0
  const n = data.length
  let i = 0
  const end8 = n - (n & 7)
  for (; i < end8; i += 8) {
    const a = c ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24))
    const b = data[i + 4] | (data[i + 5] << 8) | (data[i + 6] << 16) | (data[i + 7] << 24)
    c =
      t[1792 + (a & 0xff)] ^
      t[1536 + ((a >>> 8) & 0xff)] ^
      t[1280 + ((a >>> 16) & 0xff)] ^
      t[1024 + (a >>> 24)] ^
      t[768 + (b & 0xff)] ^
      t[512 + ((b >>> 8) & 0xff)] ^
      t[256 + ((b >>> 16) & 0xff)] ^
      t[b >>> 24]
  }
  for (; i < n; i++) c = (c >>> 8) ^ t[(c ^ data[i]) & 0xff]
  return ~c >>> 0
}

/** 64-bit FNV-1a state as two 32-bit halves, continued over `data`. */
export function fnv64Js(data: Uint8Array, seed: bigint): bigint {
  let lo = Number(seed & 0xffffffffn)
  let hi = Number(seed >> 32n)
  for (let i = 0; i < data.length; i++) {
    lo ^= data[i]
    // (hi:lo) * 0x100000001b3 = (hi:lo) * 0x1b3 + (lo << 40)
    const tl = (lo >>> 0) * 0x1b3
    const carry = Math.floor(tl / 4294967296)
    hi = (hi * 0x1b3 + carry + ((lo << 8) >>> 0)) >>> 0
    lo = tl >>> 0
  }
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0)
}

/** `out[i] = data[i] ^ key[(phase + i) % key.length]`. `out` may be `data`. */
export function xorJs(data: Uint8Array, key: Uint8Array, out: Uint8Array, phase: number): void {
  const n = data.length
  const k = key.length
  if (k === 1) {
    const b = key[0]
    for (let i = 0; i < n; i++) out[i] = data[i] ^ b
    return
  }
  let p = phase % k
  for (let i = 0; i < n; i++) {
    out[i] = data[i] ^ key[p]
    if (++p === k) p = 0
  }
}

/** `out[i] = (data[i] + imm) & 0xff`, SWAR over words where both are aligned alike. */
export function addJs(data: Uint8Array, imm: number, out: Uint8Array): void {
  const n = data.length
  let i = 0
  const aligned = ((data.byteOffset ^ out.byteOffset) & 3) === 0
  if (aligned) {
    while (i < n && (data.byteOffset + i) & 3) {
      out[i] = data[i] + imm
      i++
    }
    const words = (n - i) >>> 2
    if (words > 0) {
      const src = new Uint32Array(data.buffer, data.byteOffset + i, words)
      const dst = new Uint32Array(out.buffer, out.byteOffset + i, words)
      const m = Math.imul(imm, 0x01010101)
      const mLow = m & 0x7f7f7f7f
      const mHigh = m & 0x80808080
      for (let w = 0; w < words; w++) {
        const x = src[w]
        dst[w] = ((x & 0x7f7f7f7f) + mLow) ^ ((x & 0x80808080) ^ mHigh)
      }
      i += words << 2
    }
  }
  for (; i < n; i++) out[i] = data[i] + imm
}
