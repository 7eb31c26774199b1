import * as v from 'valibot'
import { checkUrl, type ResolvedUrlPolicy } from '../../core/compute/url-policy.js'
import { InvalidJobError } from '../../core/errors.js'
import { OPS, type Op } from '../../core/ops.js'

// The original system's job, as producers LPUSH it to packetfs:jobs:queue:
// {"job_id", "program": {"op", "data_url", "offset", "length", "imm"},
//  "required_memory_mb", "required_duration_seconds"}. Everything in it is
// hostile until this file has checked it.

/** A job id: printable ASCII without spaces, so it is safe inside a Redis key and a log line. */
const JOB_ID = /^[\x21-\x7e]{1,200}$/

/** Longest data URL accepted, characters. */
const MAX_URL_CHARS = 4096

const JobIdSchema = v.pipe(
  v.union([v.string(), v.pipe(v.number(), v.safeInteger(), v.minValue(0))]),
  v.transform(String),
  v.regex(JOB_ID, 'job_id must be 1 to 200 printable ASCII characters without spaces'),
)

const ProgramSchema = v.object({
  op: v.picklist(OPS, `program.op must be one of ${OPS.join(', ')}`),
  data_url: v.pipe(v.string('program.data_url must be a string'), v.maxLength(MAX_URL_CHARS)),
  offset: v.optional(v.pipe(v.number(), v.safeInteger('program.offset must be a whole number'), v.minValue(0)), 0),
  length: v.pipe(
    v.number('program.length must be a number'),
    v.safeInteger('program.length must be whole'),
    v.minValue(1),
  ),
  imm: v.optional(v.pipe(v.number(), v.integer('program.imm must be a byte'), v.minValue(0), v.maxValue(255)), 0),
})

const JobSchema = v.object({
  job_id: JobIdSchema,
  program: ProgramSchema,
  required_memory_mb: v.optional(v.nullable(v.pipe(v.number(), v.minValue(0), v.maxValue(1e9)))),
  required_duration_seconds: v.optional(v.nullable(v.pipe(v.number(), v.gtValue(0), v.maxValue(7 * 86400)))),
})

/** A queued job that passed every check. */
export interface BridgeJob {
  jobId: string
  op: Op
  url: string
  offset: number
  length: number
  imm: number
  memoryMb?: number
  maxDurationS?: number
}

/** Bounds a bridge puts on the jobs it accepts. */
export interface JobLimits {
  /** Longest range a job may name, bytes. */
  maxLength: number
  /** Largest output an xor/add job may produce (it is written to Redis), bytes. */
  maxOutputBytes: number
  /** The node's URL policy: data URLs it refuses are refused here, before any piece is placed. */
  urlPolicy: ResolvedUrlPolicy
}

/** What parsing a queued item gave: a job, or an error with the job id when one could be read. */
export type ParsedJob = { ok: true; job: BridgeJob } | { ok: false; jobId?: string; error: InvalidJobError }

/**
 * Parses and checks one raw queue item. Never throws: a malformed item gives
 * `{ ok: false }` with an `InvalidJobError` (and the job id when it could be
 * read, so an error result can be written for it).
 */
export function parseJob(raw: string, limits: JobLimits): ParsedJob {
  let json: unknown
  try {
    json = JSON.parse(raw)
  } catch {
    return { ok: false, error: new InvalidJobError('the queued item is not JSON') }
  }
  const id = v.safeParse(v.object({ job_id: JobIdSchema }), json)
  const jobId = id.success ? id.output.job_id : undefined
  const r = v.safeParse(JobSchema, json)
  if (!r.success) return { ok: false, jobId, error: new InvalidJobError(describe(r.issues)) }
  const p = r.output.program
  if (p.length > limits.maxLength)
    return { ok: false, jobId, error: new InvalidJobError(`program.length ${p.length} exceeds ${limits.maxLength}`) }
  if ((p.op === 'xor' || p.op === 'add') && p.length > limits.maxOutputBytes)
    return {
      ok: false,
      jobId,
      error: new InvalidJobError(
        `${p.op} output of ${p.length} bytes exceeds the result bound ${limits.maxOutputBytes}`,
      ),
    }
  try {
    checkUrl(p.data_url, limits.urlPolicy)
  } catch (err) {
    return { ok: false, jobId, error: new InvalidJobError(`program.data_url refused: ${(err as Error).message}`) }
  }
  const job: BridgeJob = {
    jobId: r.output.job_id,
    op: p.op,
    url: p.data_url,
    offset: p.offset,
    length: p.length,
    imm: p.imm,
  }
  if (r.output.required_memory_mb != null) job.memoryMb = r.output.required_memory_mb
  if (r.output.required_duration_seconds != null) job.maxDurationS = r.output.required_duration_seconds
  return { ok: true, job }
}

/** One line naming each problem valibot found, with its path. */
function describe(issues: readonly v.BaseIssue<unknown>[]): string {
  return issues
    .slice(0, 5)
    .map((i) => {
      const path = v.getDotPath(i)
      return path && !i.message.startsWith(path) ? `${path}: ${i.message}` : i.message
    })
    .join('; ')
}
