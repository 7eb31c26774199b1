import { PayloadTooLargeError, ProtocolError } from '../../../errors.js'

// A map batch as it travels: the items of one task's input, or the results
// of its output. Pure and bounded: decoding never allocates past the buffer
// it is given, and refuses counts above MAX_BATCH_ITEMS. Three formats: a
// batch of finite numbers only is their float64s (format 3: ~3 ns an item each
// way, no text at all); a batch of JSON values only is one JSON array text
// (format 2: the engine's native JSON.parse/stringify of the whole batch,
// ~10-30 ns an item, instead of a frame and a conversion per item); a batch
// with bytes or bigints frames each item (format 1). Spec: PROTOCOL.md, "Map batches".

/** The kernel name a map batch runs as: its input is a batch of items, its output a batch of results. */
export const MAP_KERNEL = '@map'
/** Format version of a batch that frames each item (bytes, bigints), its first byte. */
export const BATCH_VERSION = 1
/** Format version of a batch of JSON values only, written as one JSON array text. */
export const BATCH_VERSION_JSON = 2
/** Format version of a batch of finite numbers only, written as little-endian float64s. */
export const BATCH_VERSION_F64 = 3
/** Most items in one batch. */
export const MAX_BATCH_ITEMS = 65_536
/** Largest encoded batch of items a submitter builds, bytes (a single larger item is refused). */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024

/** A map item or result: a JSON value, bytes, or (a built-in's result) a bigint. */
export type MapValue = unknown

const TAG_JSON = 0
const TAG_BYTES = 1
const TAG_BIGINT = 2
const HEADER = 5 // version u8, count u32
const F64_HEADER = 8 // version u8, count u32, 3 zero bytes: the float64s start 8-aligned in the batch
/** Whether this host's typed arrays are little-endian (the wire's float64 order): then they are read and written whole. */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1
const ENTRY = 5 // tag u8, length u32

/** What JSON.stringify makes nothing of (inside an array: null). */
const NOT_JSON = ['undefined', 'function', 'symbol']
const enc = new TextEncoder()
const dec = new TextDecoder('utf-8', { fatal: true })

/** `v` as JSON text; TypeError for what cannot travel (undefined, functions, cycles, bigints inside). */
function json(v: unknown): string {
  let t: string | undefined
  try {
    t = JSON.stringify(v)
  } catch {}
  if (t === undefined) throw new TypeError('a map value must be JSON or bytes')
  return t
}

/** A batch of `count` items (at most MAX_BATCH_ITEMS: callers cut them), its header written, `size` bytes after it. */
function frame(version: number, count: number, size: number): { out: Uint8Array; view: DataView } {
  const out = new Uint8Array(HEADER + size)
  const view = new DataView(out.buffer)
  out[0] = version
  view.setUint32(1, count)
  return { out, view }
}

/**
 * Encodes plain values into one batch: format 2 (the array's JSON text) where
 * all are JSON, else format 1 (an entry per value); TypeError for what cannot travel.
 */
export function encodeValues(values: readonly MapValue[]): Uint8Array {
  return encodeRange(values, 0, values.length)
}

/** encodeValues of `values[start..end)`, a batch of numbers written from `values` itself, with no copy of them between. */
function encodeRange(all: readonly MapValue[], start: number, end: number): Uint8Array {
  const numbers = encodeNumbers(all, start, end)
  if (numbers) return numbers
  const values = start === 0 && end === all.length ? all : all.slice(start, end)
  if (values.every((v) => !(v instanceof Uint8Array) && typeof v !== 'bigint')) {
    // a value JSON cannot hold would be null inside the array: refused as it is alone
    for (const v of values) if (NOT_JSON.includes(typeof v)) json(v)
    const text = enc.encode(json(values))
    const { out } = frame(BATCH_VERSION_JSON, values.length, text.length)
    out.set(text, HEADER)
    return out
  }
  const entries = values.map((v) =>
    v instanceof Uint8Array
      ? { tag: TAG_BYTES, bytes: v }
      : {
          tag: typeof v === 'bigint' ? TAG_BIGINT : TAG_JSON,
          bytes: enc.encode(typeof v === 'bigint' ? `${v}` : json(v)),
        },
  )
  const { out, view } = frame(
    BATCH_VERSION,
    entries.length,
    entries.reduce((n, e) => n + ENTRY + e.bytes.length, 0),
  )
  let at = HEADER
  for (const e of entries) {
    out[at] = e.tag
    view.setUint32(at + 1, e.bytes.length)
    out.set(e.bytes, at + ENTRY)
    at += ENTRY + e.bytes.length
  }
  return out
}

/** Format 3 of `values[start..end)` when there is at least one and every one is a finite number, else undefined. */
function encodeNumbers(values: readonly MapValue[], start: number, end: number): Uint8Array | undefined {
  const n = end - start
  if (n <= 0 || typeof values[start] !== 'number') return undefined
  const out = new Uint8Array(F64_HEADER + 8 * n)
  const view = new DataView(out.buffer)
  const f64 = LITTLE_ENDIAN ? new Float64Array(out.buffer, F64_HEADER, n) : undefined
  for (let i = 0; i < n; i++) {
    const v = values[start + i]
    // NaN and ±Infinity are no JSON numbers (JSON would make them null): such a batch is format 2
    if (typeof v !== 'number' || v - v !== 0) return undefined
    const x = v === 0 ? 0 : v // -0 travels as 0, as in JSON
    if (f64) f64[i] = x
    else view.setFloat64(F64_HEADER + 8 * i, x, true)
  }
  out[0] = BATCH_VERSION_F64
  view.setUint32(1, n)
  return out
}

/** The numbers of a format-3 batch of `count`; ProtocolError for a wrong length, padding or a value that is not finite. */
function decodeNumbers(buf: Uint8Array, view: DataView, count: number): MapValue[] {
  if (buf.length !== F64_HEADER + 8 * count || buf[5] !== 0 || buf[6] !== 0 || buf[7] !== 0)
    throw new ProtocolError(`a format-3 batch of ${count} is not ${F64_HEADER + 8 * count} bytes`)
  const out: MapValue[] = new Array(count)
  let f64: Float64Array | undefined
  if (LITTLE_ENDIAN)
    f64 =
      (buf.byteOffset + F64_HEADER) % 8 === 0
        ? new Float64Array(buf.buffer, buf.byteOffset + F64_HEADER, count)
        : new Float64Array(new Uint8Array(buf.subarray(F64_HEADER)).buffer) // unaligned: one plain copy (a Buffer's own slice() is a view)
  for (let i = 0; i < count; i++) {
    const x = f64 ? f64[i] : view.getFloat64(F64_HEADER + 8 * i, true)
    if (x - x !== 0) throw new ProtocolError(`format-3 batch value ${i} is not a finite number`)
    out[i] = x
  }
  return out
}

/**
 * The leading values of `values[start..end)` that fit a batch of `maxBytes`, encoded:
 * at least one (`PayloadTooLargeError` where one alone does not fit); a
 * batch past `maxBytes` is cut in half until it fits.
 */
export function encodeLeading(
  values: readonly MapValue[],
  maxBytes: number,
  start = 0,
  end = values.length,
): { batch: Uint8Array; count: number } {
  for (let n = Math.min(end - start, MAX_BATCH_ITEMS); ; n >>= 1) {
    const batch = encodeRange(values, start, start + n)
    if (batch.length <= maxBytes) return { batch, count: n }
    if (n === 1) throw new PayloadTooLargeError(`a map item exceeds a batch (${maxBytes} bytes)`)
  }
}

/**
 * Decodes a batch of any format; `ProtocolError` for anything malformed:
 * a wrong version, a count above MAX_BATCH_ITEMS or other than `expectCount`,
 * a count the bytes cannot hold, an entry's length past the end, bytes after
 * the last entry, an unknown tag, bad UTF-8 or JSON, a malformed bigint, a
 * format-2 text that is no array of exactly `count` values, a format-3 batch
 * of another length than 8 + 8 × count, with padding other than zeros, or
 * with a value that is NaN or infinite. Bytes come back
 * as views into `buf`.
 */
export function decodeBatch(buf: Uint8Array, expectCount?: number): MapValue[] {
  const { v, count, view } = batchHeader(buf, expectCount)
  return v === BATCH_VERSION_F64 ? decodeNumbers(buf, view, count) : decodeOther(buf, v, count, view)
}

/** A batch's version and count, checked before any work (see decodeBatch). */
function batchHeader(buf: Uint8Array, expectCount?: number): { v: number; count: number; view: DataView } {
  const v = buf[0]
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const count = buf.length < HEADER ? -1 : view.getUint32(1)
  // every entry takes at least its header (format 2: a byte and a comma or bracket): a count the bytes cannot hold is refused before any work
  if (
    (v !== BATCH_VERSION && v !== BATCH_VERSION_JSON && v !== BATCH_VERSION_F64) ||
    count < 0 ||
    count > MAX_BATCH_ITEMS ||
    count * (v === BATCH_VERSION ? ENTRY : 2) > buf.length - HEADER
  )
    throw new ProtocolError(`not a batch (version ${v}, ${count} items)`)
  if (count !== (expectCount ?? count))
    throw new ProtocolError(`a batch of ${count} values where ${expectCount} were expected`)
  return { v, count, view }
}

/** The values of a format-1 or format-2 batch whose header batchHeader checked. */
function decodeOther(buf: Uint8Array, v: number, count: number, view: DataView): MapValue[] {
  if (v === BATCH_VERSION_JSON) {
    let out: unknown
    try {
      out = JSON.parse(dec.decode(buf.subarray(HEADER)))
    } catch {}
    if (!Array.isArray(out) || out.length !== count)
      throw new ProtocolError(`a format-2 batch is no JSON array of ${count}`)
    return out
  }
  const out: MapValue[] = new Array(count)
  let at = HEADER
  for (let i = 0; i < count; i++) {
    const tag = buf[at]
    const start = at + ENTRY
    const len = start > buf.length ? -1 : view.getUint32(at + 1)
    at = start + len
    if (len < 0 || at > buf.length || tag > TAG_BIGINT) throw new ProtocolError(`batch entry ${i} is malformed`)
    const bytes = buf.subarray(start, at)
    if (tag === TAG_BYTES) out[i] = bytes
    else
      try {
        const s = dec.decode(bytes)
        if (tag === TAG_JSON) out[i] = JSON.parse(s)
        else if (/^-?[0-9]{1,40}$/.test(s)) out[i] = BigInt(s)
        else throw s
      } catch {
        throw new ProtocolError(`batch entry ${i} is malformed`)
      }
  }
  if (at !== buf.length) throw new ProtocolError('bytes after the last batch entry')
  return out
}
