import * as kernels from '@peercompute/kernels'
import type { Op, OpResult } from '../../ops.js'
import type { Piece } from './job-types.js'

/**
 * Combines a job's accepted pieces, in order, into its result per op: counts
 * add, CRCs combine, fnv64 is the last piece's state (pieces ran seeded in
 * turn), xor/add are the output buffer the pieces were copied into. A
 * registered kernel's job has one piece: its value is the result.
 */
export function combine(op: Op | undefined, pieces: Piece[], out: Uint8Array | undefined): OpResult {
  switch (op) {
    case undefined:
      return pieces[0]?.accepted as OpResult
    case 'counteq':
      return pieces.reduce((s, p) => s + (p.accepted as number), 0)
    case 'crc32c':
      return (
        pieces.reduce(
          (crc, p, i) =>
            i === 0 ? (p.accepted as number) : kernels.crc32cCombine(crc, p.accepted as number, p.length),
          0,
        ) >>> 0
      )
    case 'fnv64':
      return pieces.length ? (pieces[pieces.length - 1].accepted as bigint) : kernels.FNV64_OFFSET
    case 'xor':
    case 'add':
      return out as Uint8Array
  }
}
