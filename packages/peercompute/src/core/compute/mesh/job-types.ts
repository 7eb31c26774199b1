import type { Op, OpResult } from '../../ops.js'
import type { ContentPin, RangeInput } from '../range-fetch.js'
import type { Candidate, SchedulerPolicy } from './policies.js'
import type { Ballot } from './vote.js'

// The shapes a Job takes and gives: its spec, its reports and results, and
// what it needs from its host (the ComputeManager).

/** What a job needs of a peer. */
export interface Requirements {
  memoryMb?: number
  /** Longest a piece may take there, s; also each attempt's deadline. */
  maxDurationS?: number
  gpu?: boolean
}

/** A data job over a byte range, as `node.compute.submit` takes it. */
export interface JobSpec {
  op: Op
  /** The bytes, or a URL range each executor fetches itself with HTTP Range. */
  data: Uint8Array | { url: string; offset?: number; length: number }
  /** counteq / xor / add: the byte. */
  imm?: number
  /** xor: a key repeated over the data from its first byte (pieces get it rotated into phase). */
  key?: Uint8Array
  requirements?: Requirements
  /** Distinct peers each piece runs on; results must agree (default 1). */
  redundancy?: number
  /** Default `balanced`. */
  policy?: SchedulerPolicy
  /** `sticky`: the affinity key (default the op). */
  affinityKey?: string
  /** Fixed piece size, bytes; without it pieces start at 8 MiB and adapt to the throughput measured. */
  pieceBytes?: number
  /** Failed attempts allowed per piece before the job fails (default 4). */
  maxAttempts?: number
  /** Deadline of each attempt, ms (default 60,000, or `requirements.maxDurationS`). */
  deadlineMs?: number
  /** Run pieces on this node too (default true). */
  includeLocal?: boolean
  /** Only these peer ids (this node's own id included) may run pieces. */
  peers?: string[]
  /**
   * How long a piece waits, ms, when every peer that could run it has gone
   * (it left the relay's registry, or its tab handed over) and the job had
   * one before: it may come back (default PEER_GRACE_MS, 15,000; 0 fails at
   * once). A job that never had an eligible peer fails at once.
   */
  peerGraceMs?: number
  signal?: AbortSignal
}

/**
 * A job as a Job runs it: a built-in op over a range (split into pieces), or a
 * registered kernel by name (one piece: its input is the kernel's, its output the result).
 */
export type JobInit =
  | JobSpec
  | (Omit<JobSpec, 'op' | 'imm' | 'key'> & {
      kernel: string
      params?: Record<string, unknown>
      /** The kernel a peer must advertise to take the piece, when not `kernel` (a map batch: its items' kernel). */
      needs?: string
      /** Why a result may not count, beyond its shape per kernel (a map batch: its count and types); undefined when it may. */
      checkResult?: (value: unknown) => string | undefined
      /**
       * Pieces a peer may hold per slot (a map batch: MAP_PIPELINE); by default
       * TINY_PIPELINE for tiny pieces (their cost is the round trip), else 1.
       */
      pipeline?: number
    })

/** One attempt of a piece on one peer. */
export interface PieceRun {
  peer: string
  substrate: string
  attempt: number
  ok: boolean
  error?: string
  execMs: number
  wallMs: number
  costUsd: number
  /** False when redundancy outvoted this run. */
  agreed?: boolean
  /** The error name the peer itself reported (`error` is then `RemoteTaskError`). */
  remoteError?: string
}

/** A finished piece: its range, where it ran, how long, what it cost. */
export interface PieceReport {
  index: number
  offset: number
  length: number
  /** Where the accepted result came from (the first agreeing run). */
  peer: string
  substrate: string
  /** Attempts made (failed ones and redundant runs included). */
  attempts: number
  execMs: number
  wallMs: number
  costUsd: number
  runs: PieceRun[]
}

/** What a finished job returns. */
export interface JobResult {
  success: true
  /** The combined result (a registered kernel's job: that kernel's output). */
  result: OpResult
  /** The substrate every piece ran on, or `mixed`. */
  substrate: string
  /** Peers whose results were accepted. */
  peers: string[]
  executionTimeMs: number
  costUsd: number
  pieces: PieceReport[]
  /** Peers caught returning a wrong or malformed result (excluded for the rest of the job). */
  liars: string[]
  /** Pieces that were placed again after a failed attempt. */
  replaced: number
}

/** Events of a Job. */
export interface JobEvents {
  progress: CustomEvent<{ bytesDone: number; bytesTotal: number; piecesDone: number }>
  piece: CustomEvent<PieceReport>
  done: CustomEvent<{ result?: JobResult; error?: Error }>
}

/** One attempt's outcome as the host reports it. */
export interface RunOutcome {
  output: unknown
  execMs: number
  wallMs: number
  substrate: string
  costUsd: number
  /** A URL source: the version of the content the run read (strong ETag or Last-Modified). */
  validator?: ContentPin
}

/** What a Job needs from its ComputeManager. */
export interface JobHost {
  /** The local node and the peers, with their stats (fresh on each call). */
  candidates(): Candidate[]
  /** Runs one piece on a candidate (inflight, throughput, failures and metrics are the host's). */
  run(
    c: Candidate,
    task: {
      /** A built-in op or a registered kernel's name. */
      op: string
      input: Uint8Array | RangeInput
      params: Record<string, unknown>
      deadlineMs: number
      prefer?: 'cpu' | 'gpu'
    },
    meta: { job: string; piece: number; attempt: number },
    signal: AbortSignal,
  ): Promise<RunOutcome>
  /** Reports a peer caught returning a wrong (`mismatch`: outvoted) or `malformed` result. */
  flagLiar(peer: string, meta: { job: string; piece: number; reason?: LieKind }): void
}

/** How a peer was caught: outvoted by redundancy, or a result of the wrong shape. */
export type LieKind = 'mismatch' | 'malformed'

/** A piece as its Job tracks it (internal to the job's modules). */
export interface Piece {
  index: number
  offset: number
  length: number
  want: number
  running: Map<string, AbortController>
  ok: Ballot[]
  runs: PieceRun[]
  failures: number
  /** Busy refusals met (bounded by MAX_BUSY_REFUSALS; they are not failures). */
  busy: number
  excluded: Set<string>
  notBefore: number
  accepted?: unknown
  report?: PieceReport
  seed?: unknown
  /** Non-retryable errors peers reported for this piece: remote name → the distinct peers that said so. */
  reported: Map<string, Set<string>>
}
