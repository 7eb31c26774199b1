import { ProtocolError } from '../errors.js'

// Frames: an unsigned LEB128 varint length, then that many bytes. Pure functions;
// the decoder bounds the length before it buffers anything.

/** Largest frame any PeerCompute protocol accepts unless it says otherwise (64 KiB). */
export const DEFAULT_MAX_FRAME = 64 * 1024

/** `n` (a safe integer ≥ 0) as an unsigned LEB128 varint. */
export function encodeVarint(n: number): Uint8Array {
  const out: number[] = []
  do {
    const b = n & 0x7f
    n = Math.floor(n / 128)
    out.push(n > 0 ? b | 0x80 : b)
  } while (n > 0)
  return Uint8Array.from(out)
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

/**
 * Splits a byte stream into frames, chunk by chunk. Throws `ProtocolError` on a
 * length over `maxFrame` or a varint over 5 bytes; after that the stream is
 * beyond repair and must be closed.
 */
export class FrameDecoder {
  private readonly maxFrame: number
  private buf: Uint8Array = new Uint8Array(0)
  private failed = false

  constructor(maxFrame = DEFAULT_MAX_FRAME) {
    this.maxFrame = maxFrame
  }

  /** Bytes held waiting for the rest of a frame. */
  get buffered(): number {
    return this.buf.length
  }

  /** Feeds a chunk; returns the frames it completes. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failed) throw new ProtocolError('frame decoder already failed')
    // a copy, as a plain Uint8Array: a Buffer's slice() shares memory, and streams may reuse their buffers
    this.buf = this.buf.length === 0 ? new Uint8Array(chunk) : concatBytes([this.buf, chunk])
    const frames: Uint8Array[] = []
    let off = 0
    for (;;) {
      let len = 0
      let mul = 1
      let i = off
      let done = false
      while (i < this.buf.length && i - off < 5) {
        const b = this.buf[i++]
        len += (b & 0x7f) * mul
        mul *= 128
        if ((b & 0x80) === 0) {
          done = true
          break
        }
      }
      if (!done) {
        if (i - off >= 5) this.fail(`frame length varint longer than 5 bytes`)
        break
      }
      if (len > this.maxFrame) this.fail(`frame of ${len} bytes exceeds the limit of ${this.maxFrame}`)
      if (this.buf.length - i < len) break
      frames.push(this.buf.slice(i, i + len))
      off = i + len
    }
    this.buf = off === 0 ? this.buf : this.buf.slice(off)
    return frames
  }

  private fail(msg: string): never {
    this.failed = true
    this.buf = new Uint8Array(0)
    throw new ProtocolError(msg)
  }
}
