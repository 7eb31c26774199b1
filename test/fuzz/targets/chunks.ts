// Fuzz targets of chunk reassembly (core/wire/chunks.ts): hostile frame
// sequences checked against a reference assembler up to the first error.
import fc from 'fast-check'
import { CHUNK_FRAME_MAX, ChunkAssembler, ProtocolError, toChunks } from 'peercompute'
import { ensure, FuzzFailure, sameByteLists, target } from '../harness.ts'
import { applyEdits, byteEdit, concat } from '../mutate.ts'

// messages of up to three frames, so reassembly across frames is common
const message = fc.oneof(
  fc.uint8Array({ maxLength: 64 }),
  fc.nat({ max: 3 * CHUNK_FRAME_MAX }).map((n) => new Uint8Array(n).fill(n & 0xff)),
)
const maxMessage = fc.constantFrom(0, 1, 100, CHUNK_FRAME_MAX - 1, CHUNK_FRAME_MAX, 2 * CHUNK_FRAME_MAX, 8 << 20)

// a valid frame, a frame of a valid message with an edit, or raw bytes (empty and oversized ones included)
const frame = fc.oneof(
  { weight: 4, arbitrary: fc.constant(undefined) },
  { weight: 3, arbitrary: fc.array(byteEdit, { minLength: 1, maxLength: 2 }) },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.uint8Array({ maxLength: 32 }),
      fc.constantFrom(CHUNK_FRAME_MAX + 1, 70_000).map((n) => new Uint8Array(n)),
    ),
  },
)

/** A frame sequence: the frames of some messages, each frame kept, edited or replaced by raw bytes. */
const frames = fc
  .tuple(fc.array(message, { maxLength: 4 }), fc.array(frame, { maxLength: 16 }))
  .map(([msgs, changes]) =>
    msgs
      .flatMap((m) => toChunks(m))
      .map((f, i) => {
        const c = changes[i % Math.max(1, changes.length)]
        return c === undefined ? f : c instanceof Uint8Array ? c : applyEdits(f, c)
      }),
  )

/** What the assembler should return for each frame until its first error ('error' there). */
function reference(fs: Uint8Array[], max: number): (Uint8Array | undefined | 'error')[] {
  const out: (Uint8Array | undefined | 'error')[] = []
  let parts: Uint8Array[] = []
  let size = 0
  for (const f of fs) {
    if (f.length === 0 || f.length > CHUNK_FRAME_MAX || f[0] > 1 || size + f.length - 1 > max) {
      out.push('error')
      return out
    }
    parts.push(f.subarray(1))
    size += f.length - 1
    if (f[0] === 1) {
      out.push(undefined)
      continue
    }
    out.push(concat(...parts))
    parts = []
    size = 0
  }
  return out
}

function sameResult(a: Uint8Array | undefined | 'error', b: Uint8Array | undefined | 'error'): boolean {
  return a instanceof Uint8Array && b instanceof Uint8Array ? sameByteLists([a], [b]) : a === b
}

/**
 * ChunkAssembler on hostile frame sequences: only ProtocolError; until its
 * first error it returns exactly the messages the frames make (it may refuse a
 * chunk that is not full although more follow), and it never returns a message
 * over its limit, before or after an error.
 */
export const chunksAssemble = target({
  name: 'chunks.assemble',
  arbitrary: fc.record({ frames, max: maxMessage }),
  check({ frames, max }) {
    const want = reference(frames, max)
    const asm = new ChunkAssembler(max)
    let failed = false
    frames.forEach((f, i) => {
      let got: Uint8Array | undefined | 'error'
      try {
        got = asm.push(f)
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw new FuzzFailure(`untyped error: ${(err as Error)?.stack ?? err}`)
        got = 'error'
      }
      if (got instanceof Uint8Array) ensure(got.length <= max, `a message of ${got.length} bytes over ${max}`)
      const w = want[i]
      // an assembler may also refuse a chunk that is not full although more follow (it gains nothing else)
      const strictRefusal = got === 'error' && w !== 'error' && f[0] === 1 && f.length !== CHUNK_FRAME_MAX
      if (!failed && !strictRefusal) ensure(sameResult(got, w), `frame ${i}: not what the frames make`)
      if (got === 'error') failed = true
    })
  },
})

/** Messages split by toChunks come out of the assembler whole, each at its last frame. */
export const chunksRoundTrip = target({
  name: 'chunks.roundtrip',
  arbitrary: fc.array(message, { maxLength: 4 }),
  check(msgs) {
    const asm = new ChunkAssembler(3 * CHUNK_FRAME_MAX)
    for (const m of msgs) {
      const fs = toChunks(m)
      fs.forEach((f, i) => {
        ensure(f.length >= 1 && f.length <= CHUNK_FRAME_MAX, `toChunks made a frame of ${f.length} bytes`)
        const got = asm.push(f)
        if (i < fs.length - 1) ensure(got === undefined, 'a message came out before its last frame')
        else ensure(got !== undefined && sameByteLists([got], [m]), 'the message changed on the way')
      })
    }
  },
})
