import { ProtocolError } from '../errors.js'

// Large messages travel as frames of at most 16 KiB (they cross WebRTC data
// channels well): each frame is one flag byte (1 = more follow, 0 = last) and
// up to 16,383 bytes of the message. Every chunk but the last of a message is
// full (16,383 bytes), so a message of n bytes is ceil(n / 16,383) chunks: a
// peer cannot make reassembly keep many tiny parts. Reassembly is bounded.

/** Largest frame: flag byte included. */
export const CHUNK_FRAME_MAX = 16 * 1024

/** Splits `msg` into frames of at most `CHUNK_FRAME_MAX` bytes. */
export function toChunks(msg: Uint8Array): Uint8Array[] {
  const body = CHUNK_FRAME_MAX - 1
  const frames: Uint8Array[] = []
  for (let off = 0; off === 0 || off < msg.length; off += body) {
    const part = msg.subarray(off, off + body)
    const f = new Uint8Array(1 + part.length)
    f[0] = off + body < msg.length ? 1 : 0
    f.set(part, 1)
    frames.push(f)
    if (msg.length === 0) break
  }
  return frames
}

/** Message bytes a chunk carries when more chunks of the message follow. */
const FULL_BODY = CHUNK_FRAME_MAX - 1

/**
 * Reassembles frames into messages; a message over `maxMessage` bytes, a chunk
 * that is not full although more follow, a bad flag or an empty or oversized
 * frame is a ProtocolError (and drops the partial message).
 */
export class ChunkAssembler {
  private readonly maxMessage: number
  private parts: Uint8Array[] = []
  private size = 0

  constructor(maxMessage: number) {
    this.maxMessage = maxMessage
  }

  /** Bytes of a message held until its last chunk arrives. */
  get buffered(): number {
    return this.size
  }

  /** Feeds one frame; returns the message it completes, if any. */
  push(frame: Uint8Array): Uint8Array | undefined {
    if (frame.length === 0 || frame.length > CHUNK_FRAME_MAX) this.fail(`chunk frame of ${frame.length} bytes`)
    if (frame[0] > 1) this.fail(`chunk flag ${frame[0]}`)
    if (frame[0] === 1 && frame.length - 1 !== FULL_BODY)
      this.fail(`a chunk with more to follow carries ${frame.length - 1} bytes, not ${FULL_BODY}`)
    this.size += frame.length - 1
    if (this.size > this.maxMessage) this.fail(`message over ${this.maxMessage} bytes`)
    this.parts.push(frame.subarray(1))
    if (frame[0] === 1) return undefined
    const out = new Uint8Array(this.size)
    let o = 0
    for (const p of this.parts) {
      out.set(p, o)
      o += p.length
    }
    this.parts = []
    this.size = 0
    return out
  }

  private fail(msg: string): never {
    this.parts = []
    this.size = 0
    throw new ProtocolError(msg)
  }
}
