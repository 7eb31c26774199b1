import * as v from 'valibot'

// The HTTP job API's shapes (docs/api13: field names are fixed; add, don't rename).
// Requests are checked against these before anything runs; responses are
// described by them for /api/openapi.json.

/** The built-in kernels a job may name. */
export const JOB_KERNELS = ['crc32c', 'fnv64', 'counteq', 'xor', 'add'] as const

/** Largest inline source, decoded bytes (the body limit is set from it). */
export const MAX_INLINE_BYTES = 1 << 20

/** Longest URL a job may name. */
export const MAX_URL_CHARS = 2048

const uint = v.pipe(v.number(), v.safeInteger(), v.minValue(0))

/** A source: an http(s) URL each executor reads with HTTP Range, or the bytes inline as base64. */
export const SourceSchema = v.union([
  v.strictObject({
    url: v.pipe(
      v.string(),
      v.maxLength(MAX_URL_CHARS),
      v.url(),
      v.regex(/^https?:\/\//i, 'the url must be http or https'),
    ),
  }),
  v.strictObject({
    inline: v.pipe(
      v.string(),
      v.maxLength(Math.ceil(MAX_INLINE_BYTES / 3) * 4, 'inline data is over 1 MiB'),
      v.base64(),
    ),
  }),
])

/** What a job needs of a peer. */
export const RequirementsSchema = v.strictObject({
  memoryMb: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(1 << 24))),
  maxDurationS: v.optional(v.pipe(v.number(), v.minValue(1), v.maxValue(86_400))),
  gpu: v.optional(v.boolean()),
})

/** The body of `POST /api/jobs`. */
export const JobRequestSchema = v.strictObject({
  kernel: v.picklist(JOB_KERNELS),
  source: SourceSchema,
  offset: v.optional(uint),
  length: v.optional(uint),
  imm: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(255))),
  redundancy: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(16))),
  pieceSize: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(4096), v.maxValue(1 << 30))),
  requirements: v.optional(RequirementsSchema),
})

/** A job request as checked by JobRequestSchema. */
export type JobRequest = v.InferOutput<typeof JobRequestSchema>

/** The query of `GET /api/jobs`. */
export const ListQuerySchema = v.object({
  limit: v.optional(
    v.pipe(v.string(), v.regex(/^\d{1,4}$/), v.transform(Number), v.minValue(1), v.maxValue(100)),
    '20',
  ),
  cursor: v.optional(v.pipe(v.string(), v.regex(/^\d{1,15}$/), v.transform(Number))),
})

/** The states of a job. */
export const JOB_STATES = ['queued', 'running', 'done', 'failed', 'cancelled'] as const

/** One finished piece of a job, as the API reports it. */
export const PieceReportSchema = v.object({
  index: v.number(),
  peer: v.string(),
  substrate: v.string(),
  /** Submit-to-result time of the accepted run, ms. */
  durationMs: v.number(),
  /** Time the kernel ran on the peer, ms. */
  execMs: v.number(),
  costUsd: v.number(),
  offset: v.number(),
  bytes: v.number(),
  attempts: v.number(),
  outcome: v.picklist(['ok', 'failed', 'retried']),
})

/** A piece as the API reports it. */
export type ApiPieceReport = v.InferOutput<typeof PieceReportSchema>

/** A job as the API reports it. */
export const JobSchema = v.object({
  id: v.string(),
  state: v.picklist(JOB_STATES),
  kernel: v.picklist(JOB_KERNELS),
  createdAt: v.string(),
  finishedAt: v.optional(v.string()),
  /** Bytes done of bytes total, and pieces done. */
  progress: v.object({ done: v.number(), total: v.number(), pieces: v.number() }),
  costUsd: v.number(),
  /** A number; a bigint (fnv64) as a decimal string; bytes (xor, add) as base64 when at most 16 KiB. */
  result: v.optional(v.union([v.number(), v.string()])),
  /** Bytes results: their size and CRC-32C (hex), always. */
  resultBytes: v.optional(v.number()),
  resultCrc32c: v.optional(v.string()),
  error: v.optional(v.object({ name: v.string(), message: v.string() })),
  pieces: v.optional(v.array(PieceReportSchema)),
  /** Pieces finished beyond the ones kept in `pieces`. */
  piecesOmitted: v.optional(v.number()),
})

/** A job as the API reports it. */
export type ApiJob = v.InferOutput<typeof JobSchema>

/** The answer of `GET /api/jobs`. */
export const JobListSchema = v.object({ jobs: v.array(JobSchema), next: v.nullable(v.string()) })

/** An RFC 9457 problem document. */
export const ProblemSchema = v.object({
  type: v.string(),
  title: v.string(),
  status: v.number(),
  detail: v.string(),
})

/** `stats` events of `GET /api/events`. */
export const StatsSchema = v.object({
  at: v.number(),
  tasksPerSec: v.number(),
  bytesPerSec: v.number(),
  costUsd: v.number(),
})
