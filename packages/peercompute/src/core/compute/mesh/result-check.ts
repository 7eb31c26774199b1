import { isOp, type Op } from '../../ops.js'

// The one place that knows what a result of each op looks like. The task client
// asks it before allocating a result's bytes; the Job asks it before a result
// may count (or be voted on). Whatever fails here is a lie by the peer.

/**
 * Largest result of a registered kernel the submitter takes, bytes: the
 * executor's default `maxOutputBytes` (64 MiB). Built-in ops are bounded by
 * their piece instead.
 */
export const MAX_KERNEL_RESULT_BYTES = 64 * 1024 * 1024

const U32_MAX = 0xffff_ffff
const U64_MAX = (1n << 64n) - 1n

/**
 * Why a result of `kernel` over `inputBytes` may not declare `declared` bytes
 * (xor/add: exactly the input's length; the other ops return no bytes; a
 * registered kernel up to `maxKernelBytes`); undefined when it may.
 */
export function resultBytesProblem(
  kernel: string,
  inputBytes: number,
  declared: number,
  maxKernelBytes = MAX_KERNEL_RESULT_BYTES,
): string | undefined {
  if (!isOp(kernel))
    return declared > maxKernelBytes
      ? `a ${kernel} result of ${declared} bytes exceeds the limit of ${maxKernelBytes}`
      : undefined
  if (kernel === 'xor' || kernel === 'add')
    return declared === inputBytes
      ? undefined
      : `a ${kernel} result must be ${inputBytes} bytes (the piece); ${declared} declared`
  return `a ${kernel} result is not bytes`
}

/**
 * Why `value` is not a result that `kernel` could give over a piece of
 * `pieceBytes`: xor/add bytes of exactly the piece's length, counteq an
 * integer 0..pieceBytes, crc32c a u32, fnv64 a u64 bigint; a registered
 * kernel's bytes at most `maxKernelBytes`. Undefined when it is well formed
 * (which says nothing of whether it is right: redundancy decides that).
 */
export function resultProblem(
  kernel: string,
  value: unknown,
  pieceBytes: number,
  maxKernelBytes = MAX_KERNEL_RESULT_BYTES,
): string | undefined {
  if (!isOp(kernel)) {
    if (value instanceof Uint8Array) return resultBytesProblem(kernel, pieceBytes, value.length, maxKernelBytes)
    return undefined // a registered kernel's JSON value came in a bounded header
  }
  return opResultProblem(kernel, value, pieceBytes)
}

function opResultProblem(op: Op, value: unknown, pieceBytes: number): string | undefined {
  switch (op) {
    case 'xor':
    case 'add':
      if (!(value instanceof Uint8Array)) return `a ${op} result must be bytes; got ${describe(value)}`
      return resultBytesProblem(op, pieceBytes, value.length)
    case 'counteq':
      return Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= pieceBytes
        ? undefined
        : `a counteq result must be an integer in 0..${pieceBytes}; got ${describe(value)}`
    case 'crc32c':
      return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= U32_MAX
        ? undefined
        : `a crc32c result must be an integer in 0..${U32_MAX}; got ${describe(value)}`
    case 'fnv64':
      return typeof value === 'bigint' && value >= 0n && value <= U64_MAX
        ? undefined
        : `an fnv64 result must be a bigint in 0..2^64-1; got ${describe(value)}`
  }
}

/**
 * Why `value` is not the result of a WGSL task whose output is `size` bytes:
 * exactly that many bytes, nothing else. Undefined when it is.
 */
export function wgslResultProblem(value: unknown, size: number): string | undefined {
  if (!(value instanceof Uint8Array)) return `a WGSL result must be bytes; got ${describe(value)}`
  return value.length === size ? undefined : `a WGSL result must be exactly ${size} bytes; got ${value.length}`
}

/** A short, safe description of a value a peer sent (never its whole content). */
function describe(v: unknown): string {
  if (v instanceof Uint8Array) return `${v.length} bytes`
  if (typeof v === 'number' || typeof v === 'bigint') return `${typeof v} ${String(v).slice(0, 40)}`
  if (v === null) return 'null'
  return typeof v
}
