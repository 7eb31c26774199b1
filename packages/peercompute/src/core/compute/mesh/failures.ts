import {
  BindingMismatchError,
  DataSourceError,
  MalformedResultError,
  PayloadTooLargeError,
  type PeerComputeError,
  RemoteTaskError,
} from '../../errors.js'
import type { PieceRun } from './job-types.js'
import { type Candidate, substrateOf } from './policies.js'

// How a Job counts a failed attempt. Whatever a peer says is that peer's word:
// its error is its own failure (the piece goes elsewhere), a malformed result
// is a lie. Only what this node sees itself, or what enough distinct peers
// agree on, may end the job at once.

/** Failed attempts allowed per piece before the job fails (JobSpec.maxAttempts's default). */
export const DEFAULT_MAX_ATTEMPTS = 4

/** Errors that any peer would meet too (the data source, the size): the job fails without trying others. */
const NON_RETRYABLE: Record<string, new (message: string, opts?: ErrorOptions) => PeerComputeError> = {
  BindingMismatchError,
  DataSourceError,
  PayloadTooLargeError,
}

/** What a failed attempt means for its job. */
export type Verdict =
  /** The job fails with `error` (this node met the cause itself, or enough distinct peers agree). */
  | { kind: 'fail'; error: Error }
  /** The peer returned a malformed result: it is a liar. */
  | { kind: 'lie'; why: string }
  /** The peer failed this piece: place it elsewhere (attempts are bounded). */
  | { kind: 'retry' }
  /** The peer was busy (its rate or in-flight limit): place the piece again soon, anywhere (bounded apart). */
  | { kind: 'busy' }

/** Refusals for being busy a piece may meet before they count as failures: a peer that only ever says so is lying. */
export const MAX_BUSY_REFUSALS = 32

/** Errors by which an executor says it is busy, not broken. */
const BUSY = new Set(['RateLimitedError', 'QueueFullError'])

/** True if `err` is a peer's refusal for being busy (never this node's own error). */
export function isBusyRefusal(err: Error): boolean {
  return err instanceof RemoteTaskError && BUSY.has(err.remoteName)
}

/**
 * Distinct peers that must report the same non-retryable error for a piece
 * before the job fails with it: `max(2, redundancy)`, but no more than the
 * peers that could run the piece at all (a lone eligible peer's word is all
 * the job can get; failing at once only saves its retries).
 */
export function agreementNeeded(redundancy: number, eligiblePeers: number): number {
  return Math.max(1, Math.min(Math.max(2, redundancy), eligiblePeers))
}

/**
 * Judges a failed attempt of piece `index` on `c`. `reported` collects, per
 * remote error name, the distinct peers that reported it for this piece (the
 * caller keeps it per piece); `needed` is agreementNeeded(...).
 */
export function judgeFailure(
  err: Error,
  c: Candidate,
  index: number,
  reported: Map<string, Set<string>>,
  needed: number,
): Verdict {
  if (err instanceof MalformedResultError) return c.local ? { kind: 'retry' } : { kind: 'lie', why: err.message }
  if (c.local) {
    // this node met the cause itself (a worker's error is rebuilt into its class inside this process)
    return Object.hasOwn(NON_RETRYABLE, err.name) ? { kind: 'fail', error: err } : { kind: 'retry' }
  }
  if (isBusyRefusal(err)) return { kind: 'busy' }
  if (!(err instanceof RemoteTaskError) || !Object.hasOwn(NON_RETRYABLE, err.remoteName)) return { kind: 'retry' }
  const peers = reported.get(err.remoteName) ?? new Set<string>()
  peers.add(c.id)
  reported.set(err.remoteName, peers)
  if (peers.size < needed) return { kind: 'retry' }
  const C = NON_RETRYABLE[err.remoteName]
  const error = new C(
    `piece ${index}: ${peers.size} distinct peer(s) report ${err.remoteName} (${[...peers].join(', ')}); last: ${err.message}`,
    { cause: err },
  )
  return { kind: 'fail', error }
}

/** How long a piece waits after its `failures`-th failure before it is placed again, ms. */
export function retryDelayMs(failures: number): number {
  return Math.min(2000, 50 * 2 ** (failures - 1))
}

/** The record of an attempt on `c` that failed with `err`. */
export function failedRun(c: Candidate, attempt: number, err: Error): PieceRun {
  return {
    peer: c.id,
    substrate: substrateOf(c),
    attempt,
    ok: false,
    error: err.name,
    ...(err instanceof RemoteTaskError ? { remoteError: err.remoteName } : {}),
    execMs: 0,
    wallMs: 0,
    costUsd: 0,
  }
}
