import { crc32c } from '@peercompute/kernels'
import type { JobResult } from '../../core/compute/mesh/job-types.js'
import type { SubmitSpec } from '../../core/compute/mesh/submit-task.js'
import { InvalidOptionError } from '../../core/errors.js'
import type { JobRecord } from './job-service.js'
import type { ApiJob, JobRequest } from './schemas.js'

// Between the API's shapes and the mesh's: a request to a job spec, a result
// to the Job's fields, a held job to its JSON.

/** Bytes results up to this size are given inline (base64) in the Job. */
export const MAX_INLINE_RESULT_BYTES = 16 << 10

/** The mesh job of a request; a URL without `length` gets length -1 (found by HEAD when it starts). */
export function toSpec(req: JobRequest): SubmitSpec {
  let data: SubmitSpec['data']
  if ('inline' in req.source) {
    const bytes = new Uint8Array(Buffer.from(req.source.inline, 'base64'))
    const offset = req.offset ?? 0
    const length = req.length ?? bytes.length - offset
    if (offset + length > bytes.length || length < 0)
      throw new InvalidOptionError(`offset ${offset} + length ${length} is past the ${bytes.length} inline bytes`)
    data = bytes.subarray(offset, offset + length)
  } else data = { url: req.source.url, offset: req.offset ?? 0, length: req.length ?? -1 }
  return {
    op: req.kernel,
    data,
    imm: req.imm,
    redundancy: req.redundancy,
    pieceBytes: req.pieceSize,
    requirements: req.requirements,
  }
}

/** The Job fields of a finished job's result. */
export function resultFields(r: JobResult): Partial<JobRecord> {
  const v = r.result
  if (typeof v === 'number') return { result: v, costUsd: r.costUsd }
  if (typeof v === 'bigint') return { result: v.toString(), costUsd: r.costUsd }
  const bytes = v as Uint8Array
  return {
    result: bytes.length <= MAX_INLINE_RESULT_BYTES ? Buffer.from(bytes).toString('base64') : undefined,
    resultBytes: bytes.length,
    resultCrc32c: crc32c(bytes).toString(16).padStart(8, '0'),
    costUsd: r.costUsd,
  }
}

/** The API's view of a job (`pieces` left out for lists). */
export function jobView(j: JobRecord, withPieces = true): ApiJob {
  const out: ApiJob = {
    id: j.id,
    state: j.state,
    kernel: j.kernel,
    createdAt: new Date(j.createdAt).toISOString(),
    progress: { ...j.progress },
    costUsd: j.costUsd,
  }
  if (j.finishedAt !== undefined) out.finishedAt = new Date(j.finishedAt).toISOString()
  if (j.result !== undefined) out.result = j.result
  if (j.resultBytes !== undefined) out.resultBytes = j.resultBytes
  if (j.resultCrc32c !== undefined) out.resultCrc32c = j.resultCrc32c
  if (j.error) out.error = j.error
  if (withPieces) {
    out.pieces = j.pieces
    if (j.piecesOmitted) out.piecesOmitted = j.piecesOmitted
  }
  return out
}
