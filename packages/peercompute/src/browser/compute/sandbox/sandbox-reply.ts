import { encodeValues } from '../../../core/compute/mesh/map/batch-codec.js'
import { KernelError, PayloadTooLargeError, ProtocolError } from '../../../core/errors.js'

// What comes back from a sandbox is as hostile as what comes from a peer: the
// traveling code runs in the same worker as the sandbox's loop and may post
// anything on its port. Each reply is checked here before the pool uses it.

/** Most bytes of one task's output from the sandbox (a map batch: its encoded results). */
export const MAX_SANDBOX_OUTPUT_BYTES = 64 * 1024 * 1024

/** A sandbox's message, once checked. */
export type SandboxReply =
  | { t: 'ready' }
  | { t: 'crash'; message: string }
  | { t: 'done'; id: number; ok: true; out: unknown }
  | { t: 'done'; id: number; ok: false; name: string; message: string }

const text = (v: unknown, max: number): string => (typeof v === 'string' ? v.slice(0, max) : '')

/** The reply `m` as a SandboxReply; `ProtocolError` for anything else. */
export function parseSandboxReply(m: unknown): SandboxReply {
  if (typeof m !== 'object' || m === null) throw new ProtocolError('a sandbox message must be an object')
  const o = m as Record<string, unknown>
  if (o.t === 'ready') return { t: 'ready' }
  if (o.t === 'crash') return { t: 'crash', message: text(o.message, 1024) }
  if (o.t !== 'done') throw new ProtocolError('unknown sandbox message')
  if (!Number.isSafeInteger(o.id)) throw new ProtocolError('a sandbox result without a task id')
  const id = o.id as number
  if (o.ok === true) return { t: 'done', id, ok: true, out: o.out }
  if (o.ok === false)
    return { t: 'done', id, ok: false, name: text(o.name, 64) || 'Error', message: text(o.message, 1024) }
  throw new ProtocolError('a sandbox result must say ok or not')
}

/**
 * A map batch's results as the batch format (`encodeValues`): `out` must be
 * an array of `count` JSON values or bytes, at most MAX_SANDBOX_OUTPUT_BYTES.
 */
export function batchOutput(out: unknown, count: number): Uint8Array {
  if (!Array.isArray(out) || out.length !== count)
    throw new KernelError(
      `the kernel gave ${Array.isArray(out) ? out.length : 'no'} results for ${count} items`,
      'KernelError',
    )
  let encoded: Uint8Array
  try {
    encoded = encodeValues(out.map((v) => (v instanceof ArrayBuffer ? new Uint8Array(v) : v)))
  } catch (err) {
    throw new KernelError((err as Error).message, 'KernelError')
  }
  if (encoded.length > MAX_SANDBOX_OUTPUT_BYTES)
    throw new PayloadTooLargeError(`a batch's results of ${encoded.length} bytes exceed ${MAX_SANDBOX_OUTPUT_BYTES}`)
  return encoded
}

/**
 * One task's output: bytes (an ArrayBuffer becomes a Uint8Array) or a JSON
 * value, at most MAX_SANDBOX_OUTPUT_BYTES; `KernelError` for anything else.
 */
export function taskOutput(out: unknown): unknown {
  if (out instanceof ArrayBuffer) out = new Uint8Array(out)
  if (out instanceof Uint8Array) {
    if (out.length > MAX_SANDBOX_OUTPUT_BYTES)
      throw new PayloadTooLargeError(`an output of ${out.length} bytes exceeds ${MAX_SANDBOX_OUTPUT_BYTES}`)
    return out
  }
  let json: string | undefined
  try {
    json = JSON.stringify(out)
  } catch (err) {
    throw new KernelError(`the kernel's output is not JSON or bytes: ${(err as Error).message}`, 'KernelError')
  }
  if (json === undefined)
    throw new KernelError(`the kernel's output is not JSON or bytes (${typeof out})`, 'KernelError')
  if (json.length > MAX_SANDBOX_OUTPUT_BYTES)
    throw new PayloadTooLargeError(`an output of ${json.length} characters exceeds ${MAX_SANDBOX_OUTPUT_BYTES}`)
  return out
}
