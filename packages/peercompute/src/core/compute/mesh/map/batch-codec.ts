import { PayloadTooLargeError, ProtocolError } from '../../../errors.js'

// A map batch as it travels: the items of one task's input, or the results
// of its output. Pure and bounded: decoding never allocates past the buffer
// it is given, and refuses counts above MAX_BATCH_ITEMS. Spec: PROTOCOL.md,
// "Map batches".

/** The kernel name a map batch runs as: its input is a batch of items, its output a batch of results. */
export const MAP_KERNEL = '@map'
/** Format version, the first byte of every batch. */
export const BATCH_VERSION = 1
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

/** Encodes plain values into one batch. */
export function encodeValues(values: readonly MapValue[]): Uint8Array {
  return encodeBatch(values.map(encodeValue))
}

/**
 * Decodes a batch; `ProtocolError` for anything malformed: a wrong version,
 * a count above MAX_BATCH_ITEMS or other than `expectCount`, a length past
 * the end, trailing bytes, bad UTF-8 or JSON, a malformed bigint. Bytes come
 * back as views into `buf`.
 */
export function decodeBatch(buf: Uint8Array, expectCount?: number): MapValue[] {
  if (buf.length < HEADER) throw new ProtocolError(`a batch needs ${HEADER} header bytes; got ${buf.length}`)
  if (buf[0] !== BATCH_VERSION) throw new ProtocolError(`unknown batch version ${buf[0]}`)
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  const count = view.getUint32(1)
  if (count > MAX_BATCH_ITEMS) throw new ProtocolError(`a batch of ${count} items exceeds ${MAX_BATCH_ITEMS}`)
  if (expectCount !== undefined && count !== expectCount)
    throw new ProtocolError(`a batch of ${count} values where ${expectCount} were expected`)
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
