import type { JobResult, PieceReport } from '../../core/compute/mesh/job-types.js'
import type { Op, OpResult } from '../../core/ops.js'
import type { Redis } from './queue.js'

// What the bridge writes back: packetfs:results:<job_id> (one JSON document
// with the original system's result fields, with a TTL) and per-piece records
// on the capped packetfs:metrics list.

/** The result document at `packetfs:results:<job_id>`. */
export interface BridgeResult {
  job_id: string
  success: boolean
  /** The substrate every piece ran on (`node`, `browser`, a gateway's), `mixed`, or null when nothing ran. */
  substrate: string | null
  execution_time_ms: number
  cost_usd: number
  /**
   * counteq and crc32c: a number; fnv64: 16 hex digits with `0x` (a 64-bit
   * value does not fit a JSON number); xor and add: the output bytes, base64.
   * Null when the job failed.
   */
  result_data: number | string | null
  /** Why it failed (absent on success). */
  error?: string
  /** The error's class name (`InvalidJobError`, `UrlNotAllowedError`, `NoEligiblePeerError`, ...). */
  error_type?: string
  op?: Op
  /** Pieces the range was split into, and the peers whose results were accepted. */
  pieces?: number
  peers?: string[]
  /** When the bridge wrote it (ISO 8601). */
  completed_at: string
}

/** `result` as the `result_data` field. */
export function resultData(result: OpResult): number | string {
  if (typeof result === 'bigint') return `0x${result.toString(16).padStart(16, '0')}`
  if (typeof result === 'number') return result
  return Buffer.from(result.buffer, result.byteOffset, result.byteLength).toString('base64')
}

/** The document for a job that ran. */
export function successResult(jobId: string, op: Op, r: JobResult): BridgeResult {
  return {
    job_id: jobId,
    success: true,
    substrate: r.substrate,
    execution_time_ms: r.executionTimeMs,
    cost_usd: r.costUsd,
    result_data: resultData(r.result),
    op,
    pieces: r.pieces.length,
    peers: r.peers,
    completed_at: new Date().toISOString(),
  }
}

/** The document for a job that was refused or failed. */
export function errorResult(jobId: string, err: Error, t: { executionTimeMs?: number; op?: Op } = {}): BridgeResult {
  return {
    job_id: jobId,
    success: false,
    substrate: null,
    execution_time_ms: t.executionTimeMs ?? 0,
    cost_usd: 0,
    result_data: null,
    error: err.message.slice(0, 1000),
    error_type: err.name,
    ...(t.op ? { op: t.op } : {}),
    completed_at: new Date().toISOString(),
  }
}

/** The result key of a job. */
export function resultKey(jobId: string): string {
  return `packetfs:results:${jobId}`
}

/** True when a result for `jobId` is already written (the job completed; it must not run again). */
export async function hasResult(client: Redis, jobId: string): Promise<boolean> {
  return Number(await client.exists(resultKey(jobId))) > 0
}

/**
 * Writes a job's result with a TTL, only if none is there yet: a job completes
 * once even when two runs of it race. Returns false when one was there.
 */
export async function writeResult(client: Redis, result: BridgeResult, ttlS: number): Promise<boolean> {
  const ok = await client.set(resultKey(result.job_id), JSON.stringify(result), {
    expiration: { type: 'EX', value: ttlS },
    condition: 'NX',
  })
  return ok !== null
}

/** The metrics list. */
export const METRICS_KEY = 'packetfs:metrics'

/** One finished piece, as pushed to `packetfs:metrics`. */
export function pieceMetric(jobId: string, op: Op, p: PieceReport) {
  return {
    job_id: jobId,
    op,
    piece: p.index,
    offset: p.offset,
    length: p.length,
    peer: p.peer,
    substrate: p.substrate,
    attempts: p.attempts,
    exec_ms: p.execMs,
    wall_ms: p.wallMs,
    cost_usd: p.costUsd,
    ts: Date.now(),
  }
}

/** Pushes one record to the capped metrics list (LPUSH + LTRIM in one transaction). */
export async function pushMetric(client: Redis, record: object, cap: number): Promise<void> {
  await client
    .multi()
    .lPush(METRICS_KEY, JSON.stringify(record))
    .lTrim(METRICS_KEY, 0, cap - 1)
    .exec()
}
