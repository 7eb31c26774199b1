import { ProtocolError, TrickledFrameError } from '../errors.js'

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

/** Pieces any frame may come in, past one per `minPieceBytes` of it. */
export const TRICKLE_SLACK_PIECES = 16
/** The default smallest piece a frame is sent in, on average (bytes): see FrameDecoderInit. */
export const MIN_PIECE_BYTES = 1024

/** Options of a FrameDecoder. */
export interface FrameDecoderInit {
  /**
   * A frame may reach the decoder in at most TRICKLE_SLACK_PIECES + one push
   * per this many of its bytes (default MIN_PIECE_BYTES); more, and push
   * throws `TrickledFrameError`. Honest senders write a frame whole, and
   * libp2p hands it over in muxer messages of kilobytes (WebRTC: 16 KiB); a
   * peer that sends it a byte per message makes the receiver decrypt and
   * unmux each byte. 0: no limit.
   */
  minPieceBytes?: number
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
 * beyond repair and must be closed. A frame inside one chunk is cut from it
 * (copied with `copy: true`, the default; a view with `copy: false`). The
 * bytes of an unfinished frame are copied into a buffer of the decoder's own,
 * which doubles as they come (never past the frame's declared size) and is
 * handed over whole as the frame once it completes. So the work is linear in
 * the bytes whatever the chunking: a frame sent a byte at a time costs a few
 * copies of it, not one per byte that follows (a hostile peer's way to burn CPU).
 */
export class FrameDecoder {
  private readonly maxFrame: number
  private readonly copy: boolean
  /** The start of an unfinished frame (owned: copied from the chunks that brought it). */
  private held = new Uint8Array(0)
  private heldLen = 0
  /** Pushes the held frame came in so far. */
  private pieces = 0
  private readonly minPieceBytes: number
  private failed = false

  constructor(maxFrame = DEFAULT_MAX_FRAME, init: FrameDecoderInit = {}) {
    this.maxFrame = maxFrame
    this.copy = init.copy ?? true
    this.minPieceBytes = init.minPieceBytes ?? MIN_PIECE_BYTES
  }

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.heldLen
  }

  /**
   * Feeds a chunk, or a list of them (a stream message's parts, each taken as
   * a chunk of its own: they are not joined first); returns the frames completed.
   */
  push(chunk: Uint8Array | Iterable<Uint8Array>): Uint8Array[] {
    if (this.failed) throw new ProtocolError('frame decoder already failed')
    const frames: Uint8Array[] = []
    const continuing = this.heldLen > 0
    if (chunk instanceof Uint8Array) this.pushOne(chunk, frames)
    else for (const part of chunk) this.pushOne(part, frames)
    // a push is a piece of the frame it leaves unfinished (a message's parts are one piece: the muxer cut them)
    if (this.heldLen > 0) this.countPiece(continuing && frames.length === 0)
    return frames
  }

  /** Counts a piece of the held frame (the first when not `more`), within the pieces its size allows. */
  private countPiece(more: boolean): void {
    this.pieces = more ? this.pieces + 1 : 1
    if (this.minPieceBytes <= 0 || this.pieces <= TRICKLE_SLACK_PIECES) return
    const head = readVarint(this.held.subarray(0, this.heldLen), 0)
    const size = typeof head === 'string' ? 0 : head.value
    if (this.pieces > TRICKLE_SLACK_PIECES + Math.floor(size / this.minPieceBytes))
      this.fail(
        `a frame of ${size} bytes came in more than ${this.pieces - 1} pieces (under ${this.minPieceBytes} bytes each on average)`,
        TrickledFrameError,
      )
  }

  private pushOne(chunk: Uint8Array, frames: Uint8Array[]): void {
    // the chunk is read only during this push: streams may reuse their buffers, so what waits is copied
    let at = this.heldLen > 0 ? this.finishHeld(chunk, frames) : 0
    while (at < chunk.length) {
      const head = readVarint(chunk, at)
      if (head === 'short') {
        this.append(chunk.subarray(at), MAX_VARINT_BYTES)
        return
      }
      const { value, end: start } = this.checked(head)
      const end = start + value
      if (end > chunk.length) {
        this.append(chunk.subarray(at), end - at)
        return
      }
      // a copy as a plain Uint8Array: a Node Buffer's slice() would be a view
      frames.push(this.copy ? new Uint8Array(chunk.subarray(start, end)) : chunk.subarray(start, end))
      at = end
    }
  }

  /**
   * Moves the bytes of `chunk` that belong to the held frame into it; hands
   * the frame over once whole. Returns where the rest of `chunk` starts.
   */
  private finishHeld(chunk: Uint8Array, frames: Uint8Array[]): number {
    let at = 0
    let head = readVarint(this.held.subarray(0, this.heldLen), 0)
    // the length's varint arrives a byte at a time: a byte past it may be the next frame's
    while (head === 'short') {
      if (at === chunk.length) return at
      this.append(chunk.subarray(at, at + 1), MAX_VARINT_BYTES)
      at++
      head = readVarint(this.held.subarray(0, this.heldLen), 0)
    }
    const { value, end: start } = this.checked(head)
    const total = start + value
    const take = Math.min(total - this.heldLen, chunk.length - at)
    this.append(chunk.subarray(at, at + take), total)
    at += take
    if (this.heldLen === total) {
      // the joined frame is the decoder's own: it is handed over, and the next one starts afresh
      frames.push(this.held.subarray(start, total))
      this.held = new Uint8Array(0)
      this.heldLen = 0
    }
    return at
  }

  /** A frame's length varint (its value and where the frame's bytes start), checked against maxFrame. */
  private checked(head: { value: number; end: number } | 'long'): { value: number; end: number } {
    if (head === 'long') this.fail(`frame length varint longer than ${MAX_VARINT_BYTES} bytes`)
    if (head.value > this.maxFrame) this.fail(`frame of ${head.value} bytes exceeds the limit of ${this.maxFrame}`)
    return head
  }

  /** Adds `bytes` to the held frame; its buffer doubles as needed but never past `limit` (the frame's whole size, once known). */
  private append(bytes: Uint8Array, limit: number): void {
    const need = this.heldLen + bytes.length
    if (need > this.held.length) {
      const next = new Uint8Array(Math.max(need, Math.min(Math.max(this.held.length * 2, 64), limit)))
      next.set(this.held.subarray(0, this.heldLen))
      this.held = next
    }
    this.held.set(bytes, this.heldLen)
    this.heldLen = need
  }

  private fail(msg: string, kind: typeof ProtocolError = ProtocolError): never {
    this.failed = true
    this.held = new Uint8Array(0)
    this.heldLen = 0
    throw new kind(msg)
  }
}
