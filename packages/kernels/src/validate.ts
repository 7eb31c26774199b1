/** Throws unless `data` is a usable Uint8Array. */
export function checkBytes(name: string, data: unknown): asserts data is Uint8Array {
  if (!(data instanceof Uint8Array)) {
    throw new TypeError(`${name} must be a Uint8Array, got ${describe(data)}`)
  }
  if ((data.buffer as { detached?: boolean }).detached === true) {
    throw new TypeError(
      `${name} is a view of a detached buffer (was wasm memory grown by alloc()? re-read WasmBuffer.bytes)`,
    )
  }
}

/** Throws unless `v` is an integer in [min, max]. */
export function checkInt(name: string, v: unknown, min: number, max: number): asserts v is number {
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw new TypeError(`${name} must be an integer, got ${describe(v)}`)
  }
  if (v < min || v > max) throw new RangeError(`${name} must be in ${min}..${max}, got ${v}`)
}

export function checkU64(name: string, v: unknown): asserts v is bigint {
  if (typeof v !== 'bigint') throw new TypeError(`${name} must be a bigint, got ${describe(v)}`)
  if (v < 0n || v > 0xffffffffffffffffn) throw new RangeError(`${name} must be in 0..2^64-1, got ${v}`)
}

function describe(v: unknown): string {
  if (v === null) return 'null'
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object'
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return `${typeof v} ${String(v)}`
  return typeof v
}
