import { AbortError } from '../../errors.js'
import { isOp, OPS } from '../../ops.js'
import type { JobSpec } from './job-types.js'

/** Checks a job spec before anything runs; bad input is a TypeError or RangeError that says what is wrong. */
export function validateSpec(spec: Omit<JobSpec, 'policy'>): void {
  if (!spec || typeof spec !== 'object') throw new TypeError('submit takes a job spec object')
  if (!isOp(spec.op)) throw new TypeError(`op must be one of ${OPS.join(', ')}; got ${String(spec.op)}`)
  const d = spec.data
  if (!(d instanceof Uint8Array)) {
    if (!d || typeof d !== 'object' || typeof d.url !== 'string')
      throw new TypeError('data must be a Uint8Array or { url, offset?, length }')
    if (!/^https?:\/\//.test(d.url)) throw new TypeError(`data.url must be http(s): ${d.url}`)
    if (!Number.isSafeInteger(d.length) || d.length < 0) throw new RangeError('data.length must be an integer ≥ 0')
    if (d.offset !== undefined && (!Number.isSafeInteger(d.offset) || d.offset < 0))
      throw new RangeError('data.offset must be an integer ≥ 0')
  }
  if (spec.imm !== undefined && (!Number.isInteger(spec.imm) || spec.imm < 0 || spec.imm > 255))
    throw new RangeError(`imm must be an integer in 0..255; got ${spec.imm}`)
  if (spec.key !== undefined && (!(spec.key instanceof Uint8Array) || spec.key.length === 0 || spec.key.length > 1024))
    throw new RangeError('key must be 1 to 1024 bytes')
  const k = spec.redundancy ?? 1
  if (!Number.isInteger(k) || k < 1 || k > 16) throw new RangeError(`redundancy must be an integer in 1..16; got ${k}`)
  if (spec.pieceBytes !== undefined && (!Number.isSafeInteger(spec.pieceBytes) || spec.pieceBytes < 1))
    throw new RangeError('pieceBytes must be an integer ≥ 1')
  if (spec.maxAttempts !== undefined && (!Number.isInteger(spec.maxAttempts) || spec.maxAttempts < 1))
    throw new RangeError('maxAttempts must be an integer ≥ 1')
  if (spec.peerGraceMs !== undefined && !(Number.isFinite(spec.peerGraceMs) && spec.peerGraceMs >= 0))
    throw new RangeError(`peerGraceMs must be a number of ms ≥ 0; got ${String(spec.peerGraceMs)}`)
  if (spec.signal?.aborted) throw new AbortError('aborted before the job started')
}
