import type { Piece } from './job-types.js'
import type { Candidate, PieceContext, SchedulerPolicy } from './policies.js'

// Cutting a job's range into pieces: how big the next one is, and the
// per-piece parameters that depend on where it starts.

const MiB = 1024 * 1024
/** A piece's size before anything is measured. */
export const DEFAULT_PIECE = 8 * MiB
const MIN_PIECE = 64 * 1024
/** Pieces up to this size count as tiny. */
export const TINY_PIECE = 64 * 1024
/** How many times its slots a peer may have in flight when the pieces are tiny. */
export const TINY_PIPELINE = 16
/** Tail pieces shrink to keep every peer busy, but not below this. */
const MIN_TAIL = MiB
const MAX_PIECE = 64 * MiB
/** Adapted pieces aim to take this long on the peer that gets them. */
const TARGET_PIECE_MS = 1000

/** What sizing the next piece needs to know of its job. */
export interface SizingInput {
  /** Bytes not yet cut. */
  remaining: number
  /** False for a registered kernel: its input is not ours to split. */
  splittable: boolean
  /** The job's fixed piece size, if any. */
  pieceBytes?: number
  /** fnv64: pieces run one after another, so the tail does not shrink. */
  sequential: boolean
  affinityKey: string
  policy: SchedulerPolicy
  /** Candidates that may run a piece of this context now. */
  eligible(ctx: PieceContext): Candidate[]
  /** When the first eligible peer that sits out may be tried again. */
  restingUntil(ctx: PieceContext): number | undefined
}

/** The next piece's size, or why none can be cut now (every slot busy, or every peer resting until `until`). */
export type Sizing = { size: number } | { wait: 'starved' } | { wait: 'resting'; until: number }

/** Sizes the next piece: fixed, or adapted to the best free peer's measured throughput. */
export function nextPieceSize(j: SizingInput): Sizing {
  const { remaining } = j
  if (!j.splittable) return { size: remaining }
  if (j.pieceBytes) return { size: Math.min(j.pieceBytes, remaining) }
  // a tiny rest is one piece, whatever is free now: placement pipelines tiny pieces past a peer's
  // slots (TINY_PIPELINE), so waiting here for a free slot would hold tiny jobs to `slots` in flight
  if (remaining <= TINY_PIECE) return { size: remaining }
  const ctx = { bytes: Math.min(DEFAULT_PIECE, remaining), affinityKey: j.affinityKey }
  const all = j.eligible(ctx)
  const free = all.filter((c) => c.inflight < c.slots)
  if (all.length === 0) {
    const back = j.restingUntil(ctx)
    if (back !== undefined) return { wait: 'resting', until: back }
    return { size: Math.min(DEFAULT_PIECE, remaining) } // cut it anyway: the job fails with the reason
  }
  if (free.length === 0) return { wait: 'starved' }
  free.sort((a, b) => j.policy.score(a, ctx) - j.policy.score(b, ctx))
  const t = free[0].throughput
  let size = t ? clamp(t * TARGET_PIECE_MS, MIN_PIECE, MAX_PIECE) : DEFAULT_PIECE
  // near the end, smaller pieces keep every peer busy instead of waiting on one
  const slots = all.reduce((n, c) => n + c.slots, 0)
  if (!j.sequential) size = Math.min(size, Math.max(MIN_TAIL, Math.ceil(remaining / slots)))
  size = Math.ceil(size / MIN_PIECE) * MIN_PIECE
  return { size: Math.min(size, remaining) }
}

/** The repeating key as it lines up with byte `offset` of the data: rotated, so every piece stays in phase. */
export function keyAt(key: Uint8Array, offset: number): Uint8Array {
  const shift = offset % key.length
  if (shift === 0) return key
  const out = new Uint8Array(key.length)
  out.set(key.subarray(shift))
  out.set(key.subarray(0, shift), key.length - shift)
  return out
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, v))
}

/** A new piece of `length` bytes at `offset`, wanting `want` agreeing runs. */
export function newPiece(index: number, offset: number, length: number, want: number): Piece {
  return {
    index,
    offset,
    length,
    want,
    running: new Map(),
    ok: [],
    runs: [],
    failures: 0,
    busy: 0,
    excluded: new Set(),
    notBefore: 0,
    reported: new Map(),
  }
}
