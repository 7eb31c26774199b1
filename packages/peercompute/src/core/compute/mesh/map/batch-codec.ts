import { PayloadTooLargeError, ProtocolError } from '../../../errors.js'

// A map batch as it travels: the items of one task's input, or the results
// of its output. Pure and bounded: decoding never allocates past the buffer
// it is given, and refuses counts above MAX_BATCH_ITEMS. Two formats: a batch
// of JSON values only is one JSON array text (format 2: the engine's native
// JSON.parse/stringify of the whole batch, ~10-30 ns an item, instead of a
// frame and a conversion per item); a batch with bytes or bigints frames each
// item (format 1). Spec: PROTOCOL.md, "Map batches".

/** The kernel name a map batch runs as: its input is a batch of items, its output a batch of results. */
export const MAP_KERNEL = '@map'
/** Format version of a batch that frames each item (bytes, bigints), its first byte. */
export const BATCH_VERSION = 1
/** Format version of a batch of JSON values only, written as one JSON array text. */
export const BATCH_VERSION_JSON = 2
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
const ENTRY = 5 // tag u8, length u32

const enc = new TextEncoder()
const dec = new TextDecoder('utf-8', { fatal: true })
/** Strings up to this long are converted byte by byte when ASCII (a TextEncoder/TextDecoder call costs more than the loop). */
const SHORT = 64

/** `s` as UTF-8: short ASCII strings (most items: numbers, small JSON) without a TextEncoder call. */
function utf8Bytes(s: string): Uint8Array {
  const n = s.length
  if (n > SHORT) return enc.encode(s)
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i)
    if (c > 0x7f) return enc.encode(s)
    out[i] = c
  }
  return out
}

/** UTF-8 `bytes` as a string; TypeError where they are not UTF-8. Short ASCII (always valid UTF-8) without a TextDecoder call. */
function utf8String(bytes: Uint8Array): string {
  const n = bytes.length
  if (n > SHORT) return dec.decode(bytes)
  let s = ''
  for (let i = 0; i < n; i++) {
    const b = bytes[i]
    if (b > 0x7f) return dec.decode(bytes)
    s += String.fromCharCode(b)
  }
  return s
}

/** One value's tag and payload bytes; TypeError for what cannot travel (undefined, functions, cycles). */
export function encodeValue(v: MapValue): { tag: number; bytes: Uint8Array } {
  if (v instanceof Uint8Array) return { tag: TAG_BYTES, bytes: v }
  if (typeof v === 'bigint') return { tag: TAG_BIGINT, bytes: utf8Bytes(v.toString()) }
  let json: string | undefined
  try {
    json = JSON.stringify(v)
  } catch (err) {
    throw new TypeError(`a map value must be JSON or bytes: ${(err as Error).message}`)
  }
  if (json === undefined) throw new TypeError(`a map value must be JSON or bytes; got ${typeof v}`)
  return { tag: TAG_JSON, bytes: utf8Bytes(json) }
}

/** Encoded size of one value in a batch (its entry header included). */
export function entrySize(e: { bytes: Uint8Array }): number {
  return ENTRY + e.bytes.length
}

/** Encodes values (already passed through `encodeValue`) into one batch. */
export function encodeBatch(entries: ReadonlyArray<{ tag: number; bytes: Uint8Array }>): Uint8Array {
  if (entries.length > MAX_BATCH_ITEMS)
    throw new PayloadTooLargeError(`a batch of ${entries.length} items exceeds ${MAX_BATCH_ITEMS}`)
  const size = entries.reduce((s, e) => s + entrySize(e), HEADER)
  const out = new Uint8Array(size)
  const view = new DataView(out.buffer)
  out[0] = BATCH_VERSION
  view.setUint32(1, entries.length)
  let at = HEADER
  for (const e of entries) {
    out[at] = e.tag
    view.setUint32(at + 1, e.bytes.length)
    out.set(e.bytes, at + ENTRY)
    at += ENTRY + e.bytes.length
  }
  return out
}

/** Whether `v` travels as JSON (not bytes, not a bigint); TypeError for what cannot travel at all. */
function isJsonItem(v: MapValue): boolean {
  if (v instanceof Uint8Array || typeof v === 'bigint') return false
  if (v === undefined || typeof v === 'function' || typeof v === 'symbol')
    throw new TypeError(`a map value must be JSON or bytes; got ${typeof v}`)
  return true
}

/** Whether every value of `values[0..n)` travels as JSON, so the batch can be format 2. */
function allJson(values: readonly MapValue[], n: number): boolean {
  for (let i = 0; i < n; i++) if (!isJsonItem(values[i])) return false
  return true
}

/** Format 2 of `values` (all JSON): header, then the array's JSON text as UTF-8. */
function encodeJsonBatch(values: readonly MapValue[]): Uint8Array {
  if (values.length > MAX_BATCH_ITEMS)
    throw new PayloadTooLargeError(`a batch of ${values.length} items exceeds ${MAX_BATCH_ITEMS}`)
  let text: string
  try {
    text = JSON.stringify(values)
  } catch (err) {
    throw new TypeError(`a map value must be JSON or bytes: ${(err as Error).message}`)
  }
  // ASCII text (numbers, most JSON) is written in place; other text is encoded, then placed
  let out = new Uint8Array(HEADER + text.length)
  const { read, written } = enc.encodeInto(text, out.subarray(HEADER))
  if (read !== text.length) {
    const bytes = enc.encode(text)
    out = new Uint8Array(HEADER + bytes.length)
    out.set(bytes, HEADER)
  } else if (written !== text.length) out = out.subarray(0, HEADER + written)
  out[0] = BATCH_VERSION_JSON
  new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(1, values.length)
  return out
}

/** Encodes plain values into one batch: format 2 where all are JSON, else format 1. */
export function encodeValues(values: readonly MapValue[]): Uint8Array {
  if (allJson(values, values.length)) return encodeJsonBatch(values)
  return encodeBatch(values.map(encodeValue))
}

/**
 * The leading values of `values` that fit a batch of `maxBytes`, encoded
 * (format 2 where they are all JSON): at least one, else
 * `PayloadTooLargeError`. `itemBytes` (format 1 only) gives each item's
 * payload length, for the result checks of the built-ins.
 */
export function encodeLeading(
  values: readonly MapValue[],
  maxBytes: number,
): { batch: Uint8Array; count: number; itemBytes?: number[] } {
  let n = Math.min(values.length, MAX_BATCH_ITEMS)
  if (allJson(values, n)) {
    for (;;) {
      const batch = encodeJsonBatch(n === values.length ? values : values.slice(0, n))
      if (batch.length <= maxBytes) return { batch, count: n }
      if (n === 1)
        throw new PayloadTooLargeError(`a map item of ${batch.length - HEADER - 2} bytes exceeds a batch (${maxBytes})`)
      n = n >> 1
    }
  }
  const entries: Array<{ tag: number; bytes: Uint8Array }> = []
  let size = HEADER
  for (let i = 0; i < n; i++) {
    const e = encodeValue(values[i])
    if (size + entrySize(e) > maxBytes) {
      if (i === 0) throw new PayloadTooLargeError(`a map item of ${e.bytes.length} bytes exceeds a batch (${maxBytes})`)
      break
    }
    entries.push(e)
    size += entrySize(e)
  }
  return { batch: encodeBatch(entries), count: entries.length, itemBytes: entries.map((e) => e.bytes.length) }
}

/**
 * Decodes a batch of either format; `ProtocolError` for anything malformed:
 * a wrong version, a count above MAX_BATCH_ITEMS or other than `expectCount`,
 * a length past the end, trailing bytes, bad UTF-8 or JSON, a malformed
 * bigint, a format-2 text that is no array of exactly `count` values. Bytes
 * come back as views into `buf`.
 */
export function decodeBatch(buf: Uint8Array, expectCount?: number): MapValue[] {
  if (buf.length < HEADER) throw new ProtocolError(`a batch needs ${HEADER} header bytes; got ${buf.length}`)
  if (buf[0] !== BATCH_VERSION && buf[0] !== BATCH_VERSION_JSON)
    throw new ProtocolError(`unknown batch version ${buf[0]}`)
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const count = view.getUint32(1)
  if (count > MAX_BATCH_ITEMS) throw new ProtocolError(`a batch of ${count} items exceeds ${MAX_BATCH_ITEMS}`)
  if (expectCount !== undefined && count !== expectCount)
    throw new ProtocolError(`a batch of ${count} values where ${expectCount} were expected`)
  if (buf[0] === BATCH_VERSION_JSON) return decodeJsonBatch(buf.subarray(HEADER), count)
  // every entry takes at least its header: a count the buffer cannot hold is refused before any work
  if (count * ENTRY > buf.length - HEADER) throw new ProtocolError(`a batch of ${count} items cannot fit its bytes`)
  const out: MapValue[] = new Array(count)
  let at = HEADER
  for (let i = 0; i < count; i++) {
    if (at + ENTRY > buf.length) throw new ProtocolError(`batch entry ${i} is cut off`)
    const tag = buf[at]
    const len = view.getUint32(at + 1)
    const start = at + ENTRY
    if (len > buf.length - start) throw new ProtocolError(`batch entry ${i} claims ${len} bytes past the end`)
    const bytes = buf.subarray(start, start + len)
    out[i] = decodeValue(tag, bytes, i)
    at = start + len
  }
  if (at !== buf.length) throw new ProtocolError(`${buf.length - at} bytes after the last batch entry`)
  return out
}

/** Format 2's text: a JSON array of exactly `count` values, or ProtocolError. */
function decodeJsonBatch(text: Uint8Array, count: number): MapValue[] {
  // every value takes a byte and every but the last a comma, inside the brackets: a count the text cannot hold is refused unparsed
  if (count * 2 > text.length) throw new ProtocolError(`a batch of ${count} items cannot fit its bytes`)
  let out: unknown
  try {
    out = JSON.parse(dec.decode(text))
  } catch {
    throw new ProtocolError('a format-2 batch is not UTF-8 JSON')
  }
  if (!Array.isArray(out)) throw new ProtocolError('a format-2 batch is not a JSON array')
  if (out.length !== count) throw new ProtocolError(`a format-2 batch says ${count} items and holds ${out.length}`)
  return out
}

function decodeValue(tag: number, bytes: Uint8Array, i: number): MapValue {
  switch (tag) {
    case TAG_BYTES:
      return bytes
    case TAG_JSON:
      try {
        return JSON.parse(utf8String(bytes))
      } catch {
        throw new ProtocolError(`batch entry ${i} is not UTF-8 JSON`)
      }
    case TAG_BIGINT: {
      let s: string
      try {
        s = utf8String(bytes)
      } catch {
        throw new ProtocolError(`batch entry ${i} is not a UTF-8 bigint`)
      }
      if (!/^-?[0-9]{1,40}$/.test(s)) throw new ProtocolError(`batch entry ${i} is not a bigint of at most 40 digits`)
      return BigInt(s)
    }
    default:
      throw new ProtocolError(`batch entry ${i} has unknown tag ${tag}`)
  }
}
