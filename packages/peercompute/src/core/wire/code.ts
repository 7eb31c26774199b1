import { BUNDLE_MAX_BYTES } from '../code/bundle-format.js'
import { isBundleName } from '../code/bundle-name.js'
import { ProtocolError } from '../errors.js'
import { concatBytes, encodeVarint, readVarint } from './frames.js'

// The code protocol (PROTOCOL.md, "Code distribution"): an executor asks the
// submitter for a bundle by name; the answer is a head frame, then the bundle
// in chunks. Pure encode and decode; every length bounded before it is used.

/** The protocol an executor fetches bundles over from the peer that submitted the task. */
export const CODE_PROTOCOL = '/peercompute/code/1.0.0'

/** Largest chunk of a bundle in one frame, bytes. */
export const CODE_CHUNK_BYTES = 16 * 1024

/** Largest frame on the code protocol (a chunk; the request and head are far smaller). */
export const CODE_FRAME_MAX = CODE_CHUNK_BYTES

/** Head status: the bundle follows. */
const FOUND = 0
/** Head status: this peer serves no bundle of that name. */
const NOT_FOUND = 1

/** The request frame's payload: the bundle's name in ASCII. */
export function encodeCodeRequest(name: string): Uint8Array {
  if (!isBundleName(name)) throw new ProtocolError('not a bundle name (bundle: and 43 base64url characters)')
  return new TextEncoder().encode(name)
}

/** The bundle name in a request frame; `ProtocolError` for anything else. */
export function decodeCodeRequest(payload: Uint8Array): string {
  if (payload.length > 64) throw new ProtocolError('a code request is at most 64 bytes')
  const name = String.fromCharCode(...payload)
  if (!isBundleName(name)) throw new ProtocolError('a code request names no bundle')
  return name
}

/** What the head frame says: the bundle's length, or that it is not served here. */
export type CodeHead = { found: true; length: number } | { found: false }

/** The head frame's payload: status byte, then for a found bundle its length as a varint. */
export function encodeCodeHead(head: CodeHead): Uint8Array {
  if (!head.found) return Uint8Array.of(NOT_FOUND)
  if (!Number.isSafeInteger(head.length) || head.length < 1 || head.length > BUNDLE_MAX_BYTES)
    throw new ProtocolError(`a bundle is 1 to ${BUNDLE_MAX_BYTES} bytes`)
  return concatBytes([Uint8Array.of(FOUND), encodeVarint(head.length)])
}

/** Decodes a head frame; a length over `maxBytes` (≤ BUNDLE_MAX_BYTES) is refused before anything is held for it. */
export function decodeCodeHead(payload: Uint8Array, maxBytes = BUNDLE_MAX_BYTES): CodeHead {
  if (payload.length === 1 && payload[0] === NOT_FOUND) return { found: false }
  if (payload.length < 2 || payload[0] !== FOUND) throw new ProtocolError('malformed code head frame')
  const v = readVarint(payload, 1)
  if (typeof v === 'string' || v.end !== payload.length) throw new ProtocolError('malformed code head length')
  const limit = Math.min(maxBytes, BUNDLE_MAX_BYTES)
  if (v.value < 1 || v.value > limit) throw new ProtocolError(`a bundle of ${v.value} bytes is over ${limit}`)
  return { found: true, length: v.value }
}

/** The chunk payloads a bundle is sent as (each 1..CODE_CHUNK_BYTES; views, not copies). */
export function bundleChunks(bundle: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let at = 0; at < bundle.length; at += CODE_CHUNK_BYTES)
    out.push(bundle.subarray(at, Math.min(at + CODE_CHUNK_BYTES, bundle.length)))
  return out
}

/**
 * Puts a bundle back together from its chunks: exactly `length` bytes, held
 * in one buffer allocated from the head (already bounded). An empty or
 * oversized chunk, or bytes past the length, is a `ProtocolError`.
 */
export class BundleAssembler {
  private readonly buf: Uint8Array
  private at = 0

  constructor(length: number) {
    this.buf = new Uint8Array(length)
  }

  /** True once every byte arrived. */
  get complete(): boolean {
    return this.at === this.buf.length
  }

  /** Adds one chunk. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0 || chunk.length > CODE_CHUNK_BYTES)
      throw new ProtocolError(`a code chunk is 1 to ${CODE_CHUNK_BYTES} bytes`)
    if (chunk.length > this.buf.length - this.at) throw new ProtocolError('more bundle bytes than the head declared')
    this.buf.set(chunk, this.at)
    this.at += chunk.length
  }

  /** The bundle (only once complete). */
  bytes(): Uint8Array {
    if (!this.complete) throw new ProtocolError('the bundle is incomplete')
    return this.buf
  }
}
