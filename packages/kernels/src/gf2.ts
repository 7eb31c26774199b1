import { CRC32C_POLY } from './tables.js'

// Polynomial arithmetic modulo the CRC-32C polynomial in the reflected bit order
// (bit 31 is x^0), after zlib's crc32_combine: combining needs x^(8n) mod P.

function multModP(a: number, b: number): number {
  let m = 0x80000000
  let p = 0
  let bb = b >>> 0
  for (;;) {
    if (a & m) {
      p ^= bb
      if ((a & (m - 1)) === 0) break
    }
    m >>>= 1
    bb = bb & 1 ? (bb >>> 1) ^ CRC32C_POLY : bb >>> 1
  }
  return p >>> 0
}

/** X2N[k] = x^(2^k) mod P, enough for any length a JS number can hold. */
const X2N: Uint32Array = (() => {
  const t = new Uint32Array(64)
  let p = 0x40000000 // x^1
  t[0] = p
  for (let k = 1; k < 64; k++) {
    p = multModP(p, p)
    t[k] = p
  }
  return t
})()

/** x^(8 * bytes) mod P: the operator that appends `bytes` zero bytes to a CRC. */
function xPow8n(bytes: number): number {
  let p = 0x80000000 // x^0
  let k = 3
  let n = bytes
  while (n > 0) {
    if (n % 2 === 1) p = multModP(X2N[k], p)
    n = Math.floor(n / 2)
    k++
  }
  return p
}

/** CRC of `A || B` from `crc(A)`, `crc(B)` and `B`'s length. */
export function combineCrc(crcA: number, crcB: number, lengthB: number): number {
  return (multModP(xPow8n(lengthB), crcA) ^ crcB) >>> 0
}
