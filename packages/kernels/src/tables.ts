/** CRC-32C (Castagnoli), reflected polynomial. */
export const CRC32C_POLY = 0x82f63b78

/**
 * Slicing-by-8 tables: `tables[k * 256 + b]` is the CRC register contribution of
 * byte `b` followed by `k` zero bytes. Table 0 is the classic byte-wise table.
 */
export const CRC_TABLES: Uint32Array = buildSlicingTables()

function buildSlicingTables(): Uint32Array {
  const t = new Uint32Array(8 * 256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ CRC32C_POLY : c >>> 1
    t[n] = c >>> 0
  }
  for (let k = 1; k < 8; k++) {
    for (let n = 0; n < 256; n++) {
      const prev = t[(k - 1) * 256 + n]
      t[k * 256 + n] = ((prev >>> 8) ^ t[prev & 0xff]) >>> 0
    }
  }
  return t
}

/** Advances a raw (non-inverted) CRC register over `len` zero bytes, one byte at a time. */
function shiftRawSlow(reg: number, len: number): number {
  let c = reg
  for (let i = 0; i < len; i++) c = (c >>> 8) ^ CRC_TABLES[c & 0xff]
  return c >>> 0
}

/**
 * Tables for the linear map "advance a raw CRC register over `len` zero bytes":
 * `shift(x) = T[x & 0xff] ^ T[256 + (x >>> 8 & 0xff)] ^ T[512 + ...] ^ T[768 + (x >>> 24)]`.
 * Used to merge CRC lanes computed independently over adjacent blocks.
 */
export function buildShiftTables(len: number): Uint32Array {
  const basis = new Uint32Array(32)
  for (let bit = 0; bit < 32; bit++) basis[bit] = shiftRawSlow((1 << bit) >>> 0, len)
  const t = new Uint32Array(4 * 256)
  for (let k = 0; k < 4; k++) {
    for (let v = 0; v < 256; v++) {
      let acc = 0
      for (let b = 0; b < 8; b++) if (v & (1 << b)) acc ^= basis[k * 8 + b]
      t[k * 256 + v] = acc >>> 0
    }
  }
  return t
}
