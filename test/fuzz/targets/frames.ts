// Fuzz targets of length-prefixed framing (core/wire/frames.ts): a byte stream
// fed to FrameDecoder in random chunkings, checked against a reference parse.
import fc from 'fast-check'
import { DEFAULT_MAX_FRAME, encodeFrame, FrameDecoder, ProtocolError } from 'peercompute'
import { ensure, FuzzFailure, sameByteLists, target } from '../harness.ts'
import { chunked, concat, hostileBytes } from '../mutate.ts'

const payloads = fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 })
const stream = payloads.map((ps) => concat(...ps.map((p) => encodeFrame(p))))
const cuts = fc.array(fc.nat(), { maxLength: 12 })
const maxFrame = fc.constantFrom(0, 1, 16, 127, 128, 300, DEFAULT_MAX_FRAME)

/** What a stream holds, read all at once: its whole frames, whether a length is bad, and the bytes left over. */
function reference(b: Uint8Array, max: number): { frames: Uint8Array[]; bad: boolean; rest: number } {
  const frames: Uint8Array[] = []
  let off = 0
  for (;;) {
    let len = 0
    let i = off
    let done = false
    for (let mul = 1; i < b.length && i - off < 5; mul *= 128) {
      len += (b[i] & 0x7f) * mul
      if ((b[i++] & 0x80) === 0) {
        done = true
        break
      }
    }
    if (!done) return { frames, bad: i - off >= 5, rest: b.length - off }
    if (len > max) return { frames, bad: true, rest: 0 }
    if (b.length - i < len) return { frames, bad: false, rest: b.length - off }
    frames.push(b.slice(i, i + len))
    off = i + len
  }
}

/**
 * FrameDecoder on hostile streams cut anywhere: only ProtocolError; it fails
 * exactly when the stream has a bad length, emits the stream's frames in order
 * (a prefix of them when it fails) in memory of their own (with `copy: false`,
 * valid until the push returns; what it holds past a push is its own), holds no more than
 * one frame and its length, and refuses everything after failing.
 */
export const framesDecode = target({
  name: 'frames.decode',
  arbitrary: fc.record({
    bytes: hostileBytes(stream, 512),
    cuts,
    max: maxFrame,
    buffers: fc.boolean(),
    copy: fc.boolean(),
  }),
  check({ bytes, cuts, max, buffers, copy }) {
    const want = reference(bytes, max)
    const dec = new FrameDecoder(max, { copy, minPieceBytes: 0 }) // framing only: the trickle limit has its own test
    const got: Uint8Array[] = []
    let failed = false
    // chunks as a stream hands them over (Node Buffers, or plain arrays), each its own copy of the bytes
    const chunks = chunked(bytes, cuts).map((c) => (buffers ? Buffer.from(c) : c.slice()))
    for (const chunk of chunks) {
      try {
        const frames = dec.push(chunk)
        // copy: false: the consumer copies what it keeps at once (a Buffer's slice() would be a view), and the stream may reuse the chunk right after
        got.push(...(copy ? frames : frames.map((f) => new Uint8Array(f))))
        if (!copy) chunk.fill(0xee)
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw new FuzzFailure(`untyped error: ${(err as Error)?.stack ?? err}`)
        failed = true
        break
      }
      ensure(dec.buffered < max + 5, () => `holds ${dec.buffered} bytes with frames of at most ${max}`)
    }
    ensure(failed === want.bad, () => `failed: ${failed}, but the stream's lengths are ${want.bad ? 'bad' : 'good'}`)
    for (const f of got) ensure(f.length <= max, `a frame of ${f.length} bytes over the limit of ${max}`)
    for (const c of chunks) c.fill(0xee) // a stream may reuse its buffers: frames must be the decoder's own copies
    ensure(
      sameByteLists(got, want.frames.slice(0, got.length)),
      'frames differ from the stream, are out of order, or share memory with the chunks',
    )
    if (failed) {
      let refused = false
      try {
        dec.push(Uint8Array.of(0))
      } catch (err) {
        refused = err instanceof ProtocolError
      }
      ensure(refused, 'a failed decoder took more input')
    } else {
      ensure(got.length === want.frames.length, `${got.length} frames out of ${want.frames.length}`)
      ensure(dec.buffered === want.rest, () => `holds ${dec.buffered} bytes, not the ${want.rest} left over`)
    }
  },
})

/** Frames encoded, concatenated and cut anywhere come out of the decoder as they went in. */
export const framesRoundTrip = target({
  name: 'frames.roundtrip',
  arbitrary: fc.record({ payloads, cuts }),
  check({ payloads, cuts }) {
    const dec = new FrameDecoder(undefined, { minPieceBytes: 0 })
    const got: Uint8Array[] = []
    for (const chunk of chunked(concat(...payloads.map((p) => encodeFrame(p))), cuts)) got.push(...dec.push(chunk))
    ensure(sameByteLists(got, payloads), 'frames changed on the way')
    ensure(dec.buffered === 0, `${dec.buffered} bytes left over`)
  },
})
