import { Uint8ArrayList } from 'uint8arraylist'
import { ProtocolError } from '../errors.js'

// Frames: an unsigned LEB128 varint length, then that many bytes. Pure functions;
// the decoder bounds the length before it buffers anything.

/** Largest frame any PeerCompute protocol accepts unless it says otherwise (64 KiB). */
export const DEFAULT_MAX_FRAME = 64 * 1024

/** `n` (a safe integer ≥ 0) as an unsigned LEB128 varint. */
export function encodeVarint(n: number): Uint8Array {
  let len = 1
  for (let x = n; x >= 128; x = Math.floor(x / 128)) len++
  const out = new Uint8Array(len)
  for (let i = 0; i < len - 1; i++) {
    out[i] = (n % 128) | 0x80
    n = Math.floor(n / 128)
  }
  out[len - 1] = n
  return out
}

/** `payload` prefixed with its length as a varint. */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  return concatBytes([encodeVarint(payload.length), payload])
}

/** The parts, one after another, in a new buffer. */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  let size = 0
  for (const p of parts) size += p.length
  const out = new Uint8Array(size)
  let off = 0
  for (const p of parts) {
    out.set(p, off)
    off += p.length
  }
  return out
}

/** Longest varint any frame or message may use (5 bytes: up to 2³⁵ − 1). */
export const MAX_VARINT_BYTES = 5

/**
 * The unsigned LEB128 varint in `bytes` at `at`: its value and the offset just
 * past it; `'short'` if the bytes end inside it, `'long'` if it runs past
 * MAX_VARINT_BYTES. The one varint reader of the wire code.
 */
export function readVarint(bytes: Uint8Array, at: number): { value: number; end: number } | 'short' | 'long' {
  let value = 0
  let mul = 1
  for (let i = at; i < at + MAX_VARINT_BYTES; i++) {
    if (i >= bytes.length) return 'short'
    const b = bytes[i]
    value += (b & 0x7f) * mul
    mul *= 128
    if ((b & 0x80) === 0) return { value, end: i + 1 }
  }
  return 'long'
}

/** Options of a FrameDecoder. */
export interface FrameDecoderInit {
  /**
   * `false`: a frame completed by a chunk may be a view of that chunk (no
   * copy), for a consumer that copies what it keeps before it returns (the
   * task protocol); what is left of a chunk after a push is still copied, so
   * a chunk's memory is never held past the push. Default `true`: frames
   * never share memory with the chunks they came from.
   */
  copy?: boolean
}

/**
 * Splits a byte stream into frames, chunk by chunk. Throws `ProtocolError` on a
 * length over `maxFrame` or a varint over 5 bytes; after that the stream is
 * beyond repair and must be closed. A byte that waits past the push that
 * brought it is copied then (the chunk is not kept); a frame is copied out when
 * it is cut (`copy: true`, the default) or, with `copy: false`, only when it
 * spans several pieces. So a byte is copied at most twice whatever the
 * chunking: a frame sent a byte at a time costs no more than a few sent whole.
 */
export class FrameDecoder {
  private readonly maxFrame: number
  private readonly copy: boolean
  private pending = new Uint8ArrayList()
  private failed = false

  constructor(maxFrame = DEFAULT_MAX_FRAME, init: FrameDecoderInit = {}) {
    this.maxFrame = maxFrame
    this.copy = init.copy ?? true
  }

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.pending.byteLength
  }

  /**
   * Feeds a chunk, or a list of them (a stream message's parts, each taken as
   * a chunk of its own: they are not joined first); returns the frames completed.
   */
  push(chunk: Uint8Array | Iterable<Uint8Array>): Uint8Array[] {
    if (this.failed) throw new ProtocolError('frame decoder already failed')
    const frames: Uint8Array[] = []
    if (chunk instanceof Uint8Array) this.pushOne(chunk, frames)
    else for (const part of chunk) this.pushOne(part, frames)
    return frames
  }

  private pushOne(chunk: Uint8Array, frames: Uint8Array[]): void {
    // the chunk is held as it is only during this push: streams may reuse their buffers (see keepTail)
    if (chunk.length > 0) this.pending.append(chunk)
    for (;;) {
      const have = this.pending.byteLength
      if (have === 0) break
      const head = readVarint(this.pending.subarray(0, Math.min(MAX_VARINT_BYTES, have)), 0)
      if (head === 'short') break
      if (head === 'long') this.fail(`frame length varint longer than ${MAX_VARINT_BYTES} bytes`)
      const { value: len, end } = head
      if (len > this.maxFrame) this.fail(`frame of ${len} bytes exceeds the limit of ${this.maxFrame}`)
      if (have - end < len) break
      frames.push(this.copy ? this.pending.slice(end, end + len) : this.pending.subarray(end, end + len))
      this.pending.consume(end + len)
    }
    if (chunk.length > 0 && this.pending.byteLength > 0) this.keepTail(chunk.length)
  }

  /** Replaces the view of the last chunk (its last `chunkBytes` at most) still waiting with a copy. */
  private keepTail(chunkBytes: number): void {
    const have = this.pending.byteLength
    const tail = Math.min(chunkBytes, have)
    const rest = new Uint8ArrayList()
    if (have > tail) rest.append(this.pending.sublist(0, have - tail))
    rest.append(new Uint8Array(this.pending.subarray(have - tail)))
    this.pending = rest
  }

  private fail(msg: string): never {
    this.failed = true
    this.pending.consume(this.pending.byteLength)
    throw new ProtocolError(msg)
  }
}
