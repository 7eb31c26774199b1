import { PayloadTooLargeError, ProtocolError } from '../../errors.js'
import { isOp } from '../../ops.js'
import { fromHex, type TaskParams, type TaskResultHeader, toHex } from '../../wire/task.js'

// Kernel parameters and outputs as they travel in task headers, and back.

/** Parameters of a built-in kernel as the kernels take them. */
export interface KernelParams {
  imm?: number
  key?: Uint8Array
  seed?: number | bigint
}

/** Kernel params → header params (key as hex, 64-bit seed as a decimal string). */
export function paramsToWire(p: KernelParams | Record<string, unknown> | undefined): TaskParams | undefined {
  if (!p) return undefined
  const out: TaskParams = { ...(p as Record<string, unknown>) }
  if (p.key instanceof Uint8Array) out.key = toHex(p.key)
  if (typeof p.seed === 'bigint') out.seed = p.seed.toString()
  return out
}

/** Header params → what the kernel `kernel` takes. */
export function paramsFromWire(kernel: string, p: TaskParams | undefined): unknown {
  if (!p || !isOp(kernel)) return p
  const out: KernelParams = {}
  if (p.imm !== undefined) out.imm = p.imm
  if (typeof p.key === 'string') out.key = fromHex(p.key)
  if (p.seed !== undefined) out.seed = kernel === 'fnv64' ? BigInt(p.seed) : Number(p.seed)
  return out
}

/** Splits an output into a result header and the bytes that follow it. */
export function outputToWire(
  output: unknown,
  meta: { execMs: number; substrate: 'cpu' | 'webgpu' },
  maxJson: number,
): { header: TaskResultHeader; data: Uint8Array } {
  const empty = new Uint8Array(0)
  if (typeof output === 'number') return { header: { type: 'number', value: output, ...meta }, data: empty }
  if (typeof output === 'bigint') return { header: { type: 'bigint', value: output.toString(), ...meta }, data: empty }
  if (output instanceof Uint8Array) return { header: { type: 'bytes', length: output.length, ...meta }, data: output }
  if (ArrayBuffer.isView(output)) {
    const bytes = new Uint8Array(output.buffer, output.byteOffset, output.byteLength)
    return { header: { type: 'bytes', length: bytes.length, ...meta }, data: bytes }
  }
  const json = JSON.stringify(output ?? null)
  if (json.length > maxJson)
    throw new PayloadTooLargeError(`a JSON result of ${json.length} bytes exceeds ${maxJson}; return bytes instead`)
  return { header: { type: 'json', value: JSON.parse(json), ...meta }, data: empty }
}

/** A result header (and its bytes, for `bytes`) → the output value. */
export function outputFromWire(h: TaskResultHeader, data: Uint8Array | undefined): unknown {
  switch (h.type) {
    case 'number':
      return h.value
    case 'bigint':
      return BigInt(h.value)
    case 'bytes':
      if (!data || data.length !== h.length) throw new ProtocolError('result bytes incomplete')
      return data
    case 'json':
      return h.value
  }
}
