import { NoEligiblePeerError, ResultMismatchError } from '../../errors.js'
import type { OpResult } from '../../ops.js'
import type { ContentPin, RangeInput } from '../range-fetch.js'
import type { JobInit, JobResult, Piece, PieceReport, PieceRun } from './job-types.js'
import { keyAt } from './pieces.js'
import { type Candidate, expectedMs, type PieceContext } from './policies.js'

// What a piece asks of a peer, and what it is sent: the job's static
// requirements, the task built for one piece, and its report once accepted.

/** Default deadline of each attempt, ms. */
const DEFAULT_DEADLINE_MS = 60_000

/** True if `c` offers what `spec` needs to run `kernel` over a piece like `piece` (liars and rests aside). */
export function fits(c: Candidate, spec: JobInit, kernel: string, piece: PieceContext): boolean {
  const req = spec.requirements ?? {}
  if (spec.includeLocal === false && c.local) return false
  if (spec.peers && !spec.peers.includes(c.id)) return false
  if (!c.caps.kernels.includes(('needs' in spec && spec.needs) || kernel)) return false
  if (req.memoryMb !== undefined && c.caps.memoryMb < req.memoryMb) return false
  if (req.gpu && !c.caps.gpu) return false
  if (req.maxDurationS !== undefined && expectedMs(c, piece) > req.maxDurationS * 1000) return false
  const g = c.caps.gateway
  if (g && !c.local) {
    // a function takes inline bytes, and returns transformed bytes, only up to its payload limit
    const inline = spec.data instanceof Uint8Array || kernel === 'xor' || kernel === 'add'
    if (inline && piece.bytes > g.payloadBytes) return false
    if (expectedMs(c, piece) > g.maxDurationS * 1000) return false
  }
  return true
}

/** How long a piece waits for a peer to come back once every eligible one has gone, ms (JobSpec.peerGraceMs). */
export const PEER_GRACE_MS = 15_000
/** How often a piece waiting for a peer looks again, ms. */
const PEER_POLL_MS = 250

/**
 * What a piece that no peer can take now does: waits for what runs on it
 * (`running`), waits until a time (`wake`, performance.now() ms: a resting
 * peer is back, or a peer that left may return within the grace), or fails.
 */
export function noPeerOutcome(o: {
  piece: Piece
  /** Eligible peers now (resting ones aside). */
  eligible: number
  /** When the first resting eligible peer may be tried again. */
  restingUntil?: number
  /** When this job last saw an eligible peer (undefined: never). */
  lastEligibleAt?: number
  graceMs: number
  now: number
  redundancy: number
  kernel: string
}): 'running' | { wake: number } | Error {
  const { piece, now } = o
  if (piece.running.size > 0) return 'running'
  if (o.restingUntil !== undefined) return { wake: o.restingUntil }
  // every peer the job could use has gone: one that left (a relay's registry lapse, a tab's handover) may be back soon
  if (o.eligible === 0 && o.lastEligibleAt !== undefined && now - o.lastEligibleAt < o.graceMs)
    return { wake: Math.min(now + PEER_POLL_MS, o.lastEligibleAt + o.graceMs) }
  if (piece.ok.length > 0 && new Set(piece.ok.map((r) => r.key)).size > 1)
    return new ResultMismatchError(
      `piece ${piece.index}: ${piece.ok.length} results disagree and no other peer is left to decide`,
    )
  if (o.eligible > 0)
    return new NoEligiblePeerError(`piece ${piece.index} needs ${o.redundancy} distinct peers; ${o.eligible} eligible`)
  const none = `no peer runs ${o.kernel} with the job's requirements`
  return new NoEligiblePeerError(
    o.lastEligibleAt === undefined ? none : `${none}: the last one left ${Math.round(now - o.lastEligibleAt)} ms ago`,
  )
}

/** The task of one piece as the host runs it. */
export function pieceTask(spec: JobInit, kernel: string, p: Piece, pin?: ContentPin) {
  const params: Record<string, unknown> = 'op' in spec ? {} : { ...spec.params }
  if ('op' in spec && spec.imm !== undefined) params.imm = spec.imm
  if ('op' in spec && spec.key !== undefined) params.key = keyAt(spec.key, p.offset)
  if (p.seed !== undefined) params.seed = p.seed
  const deadlineMs = spec.requirements?.maxDurationS
    ? spec.requirements.maxDurationS * 1000
    : (spec.deadlineMs ?? DEFAULT_DEADLINE_MS)
  const d = spec.data
  const input: Uint8Array | RangeInput =
    d instanceof Uint8Array
      ? d.subarray(p.offset, p.offset + p.length)
      : { url: d.url, offset: (d.offset ?? 0) + p.offset, length: p.length, ...(pin ? { pin } : {}) }
  return {
    op: kernel,
    input,
    params,
    deadlineMs,
    prefer: spec.requirements?.gpu ? ('gpu' as const) : undefined,
  }
}

/** The report of an accepted piece: the run of `peer` (the first agreeing one) and the piece's totals. */
export function pieceReport(p: Piece, peer: string, base: number): PieceReport {
  const first = p.runs.find((r) => r.ok && r.peer === peer) as PieceRun
  return {
    index: p.index,
    offset: base + p.offset,
    length: p.length,
    peer,
    substrate: first.substrate,
    attempts: p.runs.length,
    execMs: first.execMs,
    wallMs: first.wallMs,
    costUsd: p.runs.reduce((s, r) => s + r.costUsd, 0),
    runs: p.runs,
  }
}

/** A finished job's result: the combined value, and its pieces' reports summed up. */
export function jobResult(
  result: OpResult,
  pieces: Piece[],
  job: { t0: number; liars: Set<string>; replaced: number },
): JobResult {
  const reports = pieces.map((p) => p.report as PieceReport)
  const substrates = new Set(reports.map((r) => r.substrate))
  return {
    success: true,
    result,
    substrate: substrates.size === 1 ? [...substrates][0] : 'mixed',
    peers: [...new Set(reports.map((r) => r.peer))],
    executionTimeMs: performance.now() - job.t0,
    costUsd: reports.reduce((s, r) => s + r.costUsd, 0),
    pieces: reports,
    liars: [...job.liars],
    replaced: job.replaced,
  }
}
