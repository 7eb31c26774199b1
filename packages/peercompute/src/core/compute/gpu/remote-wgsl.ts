import type { CodeManifest } from '../../code/manifest.js'
import {
  BindingMismatchError,
  GpuLimitError,
  InvalidOptionError,
  PayloadTooLargeError,
  ProtocolError,
} from '../../errors.js'
import { int, obj } from '../../wire/validate.js'
import type { WgslBinding, WgslTask } from './gpu-executor.js'

// A WGSL task that travels: the shader is a signed bundle named by hash (the
// task's kernel), the buffers' initial bytes are the task's input, and their
// sizes, the dispatch and the output are its params (PROTOCOL.md, "WGSL tasks").
// The executor checks all of it against the verified manifest and its own
// limits before it makes any GPU resource.

/** One buffer of a traveling WGSL task; its kind is the manifest's (`kind`, if given, must agree). */
export interface RemoteWgslBinding {
  binding: number
  kind?: WgslBinding['kind']
  /** Initial contents; omitted means `size` zero bytes. */
  data?: Uint8Array
  /** Bytes (default `data.length`); rounded up to 4 on the GPU. */
  size?: number
}

/** A WGSL task for a remote GPU: which signed shader, its buffers, the dispatch, the output read back. */
export interface RemoteWgslTask {
  /** The shader bundle's name (`bundle:…`, from `node.publish`). */
  code: string
  /** Workgroups to dispatch in x, y, z. */
  workgroups: [number, number?, number?]
  bindings: RemoteWgslBinding[]
  /** The binding read back as the result, and how many bytes of it. */
  output: { binding: number; size: number }
}

/** A WGSL task's params in the task header: every buffer's size and how many initial bytes of the input it takes. */
export interface WgslTaskParams {
  workgroups: [number, number, number]
  /** In the order their initial bytes follow each other in the input. */
  bindings: { binding: number; size: number; length: number }[]
  output: { binding: number; size: number }
}

/** What an executor allows one traveling WGSL task. */
export interface WgslLimits {
  /** All buffers together, bytes. */
  maxBytes: number
  /** Workgroups in any one dimension (WebGPU's default limit is 65,535). */
  maxWorkgroupsPerDimension: number
  /** Workgroups of one dispatch, x·y·z. */
  maxWorkgroups: number
  /** One uniform buffer, bytes (WebGPU's default limit is 64 KiB). */
  maxUniformBytes: number
}

/** Defaults of `WgslLimits`. */
export const WGSL_LIMITS: WgslLimits = {
  maxBytes: 64 * 1024 * 1024,
  maxWorkgroupsPerDimension: 65_535,
  maxWorkgroups: 1 << 22,
  maxUniformBytes: 64 * 1024,
}

/** The defaults with `overrides` applied; a limit that is not a positive integer is an `InvalidOptionError`. */
export function resolveWgslLimits(overrides: Partial<WgslLimits> = {}): WgslLimits {
  if (typeof overrides !== 'object' || overrides === null) throw new InvalidOptionError('wgslLimits must be an object')
  const out: WgslLimits = { ...WGSL_LIMITS }
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue
    if (!Object.hasOwn(WGSL_LIMITS, key)) throw new InvalidOptionError(`wgslLimits.${key} is not a WGSL limit`)
    if (!Number.isSafeInteger(value) || value < 1)
      throw new InvalidOptionError(`wgslLimits.${key} must be a positive integer`)
    out[key as keyof WgslLimits] = value
  }
  return out
}

/** Largest buffer size a task may name, bytes (beyond any executor's `maxBytes`). */
const SIZE_MAX = 2 ** 40

/**
 * Submitter side: the header params and input bytes of `task`. `manifest`,
 * when the submitter holds the bundle, is checked first so a task that could
 * never run fails here (`BindingMismatchError`). Bad shapes are `TypeError`/`RangeError`.
 */
export function encodeWgslTask(
  task: RemoteWgslTask,
  manifest?: CodeManifest,
): { params: WgslTaskParams; data: Uint8Array } {
  if (!Array.isArray(task?.bindings) || task.bindings.length === 0)
    throw new TypeError('a WGSL task needs a non-empty bindings array')
  const [x = 0, y = 1, z = 1] = Array.isArray(task.workgroups) ? task.workgroups : []
  for (const v of [x, y, z])
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`workgroups must be integers ≥ 1, got ${v}`)
  const bindings = task.bindings.map((b) => {
    if (b.data !== undefined && !(b.data instanceof Uint8Array))
      throw new TypeError(`binding ${b.binding}: data must be a Uint8Array`)
    const length = b.data?.length ?? 0
    const size = b.size ?? length
    if (!Number.isSafeInteger(b.binding) || b.binding < 0) throw new RangeError(`binding ${b.binding} is not ≥ 0`)
    if (!Number.isSafeInteger(size) || size < length)
      throw new RangeError(`binding ${b.binding}: size must be an integer ≥ its data's length`)
    return { binding: b.binding, size, length }
  })
  const out = task.output
  if (!Number.isSafeInteger(out?.binding) || !Number.isSafeInteger(out?.size) || out.size < 0)
    throw new RangeError('output must be { binding, size } with integers')
  const params: WgslTaskParams = { workgroups: [x, y, z], bindings, output: { binding: out.binding, size: out.size } }
  if (manifest) {
    const kinds = new Map(manifest.bindings.map((b) => [b.binding, b.kind]))
    for (const b of task.bindings)
      if (b.kind !== undefined && kinds.get(b.binding) !== b.kind)
        throw new BindingMismatchError(
          `binding ${b.binding} is ${kinds.get(b.binding) ?? 'not declared'}, not ${b.kind}`,
        )
    checkAgainstManifest(params, manifest)
  }
  const data = new Uint8Array(bindings.reduce((s, b) => s + b.length, 0))
  let at = 0
  for (const b of task.bindings) {
    if (b.data) data.set(b.data, at)
    at += b.data?.length ?? 0
  }
  return { params, data }
}

/**
 * Executor side: the task `params` and `input` describe, checked against the
 * verified manifest and `limits`, as GpuExecutor runs it. Refusals, all before
 * any GPU resource exists: `ProtocolError` (params of the wrong shape, input
 * not the bindings' initial bytes), `BindingMismatchError` (not the declared
 * bindings), `PayloadTooLargeError` (buffers over `limits.maxBytes` or the
 * manifest's limits), `GpuLimitError` (dispatch or uniform over the limits).
 */
export function decodeWgslTask(
  shader: string,
  manifest: CodeManifest,
  params: unknown,
  input: Uint8Array,
  limits: WgslLimits = WGSL_LIMITS,
): WgslTask {
  const p = readParams(params)
  checkAgainstManifest(p, manifest)
  const kinds = new Map(manifest.bindings.map((b) => [b.binding, b.kind]))
  let total = 0
  let initial = 0
  for (const b of p.bindings) {
    total += b.size
    initial += b.length
    if (kinds.get(b.binding) === 'uniform' && b.size > limits.maxUniformBytes)
      throw new GpuLimitError(`uniform binding ${b.binding} of ${b.size} bytes exceeds ${limits.maxUniformBytes}`)
  }
  if (total > limits.maxBytes)
    throw new PayloadTooLargeError(
      `the task's buffers total ${total} bytes; this executor takes at most ${limits.maxBytes}`,
    )
  if (initial !== input.length)
    throw new ProtocolError(`the input is ${input.length} bytes; the bindings' initial bytes are ${initial}`)
  const [x, y, z] = p.workgroups
  if (Math.max(x, y, z) > limits.maxWorkgroupsPerDimension || x * y * z > limits.maxWorkgroups)
    throw new GpuLimitError(
      `a dispatch of ${x}×${y}×${z} workgroups exceeds ${limits.maxWorkgroupsPerDimension} per dimension or ${limits.maxWorkgroups} in all`,
    )
  let at = 0
  const bindings: WgslBinding[] = p.bindings.map((b) => {
    const data = input.subarray(at, at + b.length)
    at += b.length
    return { binding: b.binding, kind: kinds.get(b.binding) as WgslBinding['kind'], data, size: b.size }
  })
  return { shader, entryPoint: manifest.entry, workgroups: [x, y, z], bindings, output: p.output }
}

/** The bindings are exactly the declared ones, the output one of them, and the sizes within the manifest's limits. */
function checkAgainstManifest(p: WgslTaskParams, m: CodeManifest): void {
  const declared = m.bindings.map((b) => b.binding)
  const given = p.bindings.map((b) => b.binding).sort((a, b) => a - b)
  if (given.length !== declared.length || given.some((b, i) => b !== declared[i]))
    throw new BindingMismatchError(
      `the task's bindings [${given.join(', ')}] are not the shader's declared [${declared.join(', ')}]`,
    )
  const out = p.bindings.find((b) => b.binding === p.output.binding)
  if (!out) throw new BindingMismatchError(`output binding ${p.output.binding} is not one of the task's bindings`)
  if (p.output.size > out.size)
    throw new BindingMismatchError(`output size ${p.output.size} exceeds binding ${out.binding}'s ${out.size} bytes`)
  const initial = p.bindings.reduce((s, b) => s + b.length, 0)
  const { maxInputBytes, maxOutputBytes } = m.limits
  if (maxInputBytes !== undefined && initial > maxInputBytes)
    throw new PayloadTooLargeError(`input of ${initial} bytes exceeds the shader's limit of ${maxInputBytes}`)
  if (maxOutputBytes !== undefined && p.output.size > maxOutputBytes)
    throw new PayloadTooLargeError(`output of ${p.output.size} bytes exceeds the shader's limit of ${maxOutputBytes}`)
}

/** The params as a peer sent them, every field checked (`ProtocolError`); duplicates are a `BindingMismatchError`. */
function readParams(v: unknown): WgslTaskParams {
  const p = obj(v, 'wgsl params')
  const wg = p.workgroups
  if (!Array.isArray(wg) || wg.length !== 3) throw new ProtocolError('params.workgroups must be [x, y, z]')
  const workgroups = wg.map((n, i) => int(n, `params.workgroups[${i}]`, 1, 2 ** 32)) as [number, number, number]
  if (!Array.isArray(p.bindings) || p.bindings.length === 0 || p.bindings.length > 64)
    throw new ProtocolError('params.bindings must be an array of 1 to 64 bindings')
  const seen = new Set<number>()
  const bindings = p.bindings.map((b, i) => {
    const o = obj(b, `params.bindings[${i}]`)
    const binding = int(o.binding, `params.bindings[${i}].binding`, 0, 1023)
    const size = int(o.size, `params.bindings[${i}].size`, 0, SIZE_MAX)
    const length = int(o.length, `params.bindings[${i}].length`, 0, size)
    if (seen.has(binding)) throw new BindingMismatchError(`binding ${binding} appears twice`)
    seen.add(binding)
    return { binding, size, length }
  })
  const o = obj(p.output, 'params.output')
  const output = {
    binding: int(o.binding, 'params.output.binding', 0, 1023),
    size: int(o.size, 'params.output.size', 0, SIZE_MAX),
  }
  return { workgroups, bindings, output }
}
