import * as kernels from '@peercompute/kernels'

/** The built-in data kernels, by the names tasks use. */
export const OPS = ['counteq', 'crc32c', 'fnv64', 'xor', 'add'] as const
/** A built-in kernel name. */
export type Op = (typeof OPS)[number]

/** True if `s` names a built-in kernel. */
export function isOp(s: string): s is Op {
  return (OPS as readonly string[]).includes(s)
}

/** What a built-in kernel returns: a count, a checksum, or transformed bytes. */
export type OpResult = number | bigint | Uint8Array

/**
 * Runs one built-in kernel over `data`. `imm` is the byte for counteq, add and
 * xor (xor also takes a `key`); `seed` is crc32c's or fnv64's running state
 * (to continue a range); `out` receives xor/add output (default new).
 */
export function runOp(
  op: Op,
  data: Uint8Array,
  opts: { imm?: number; key?: Uint8Array; seed?: number | bigint; out?: Uint8Array } = {},
): OpResult {
  const imm = opts.imm ?? 0
  switch (op) {
    case 'counteq':
      return kernels.counteq(data, imm)
    case 'crc32c':
      return kernels.crc32c(data, opts.seed === undefined ? 0 : Number(opts.seed))
    case 'fnv64':
      return kernels.fnv64(data, opts.seed === undefined ? kernels.FNV64_OFFSET : BigInt(opts.seed))
    case 'xor':
      return kernels.xor(data, opts.key ?? imm, opts.out)
    case 'add':
      return kernels.add(data, imm, opts.out)
  }
}
