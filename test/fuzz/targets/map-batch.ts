// Fuzz targets of map batches (core/compute/mesh/map/batch-codec.ts): hostile
// bytes of both formats checked against a reference decoder, and the round
// trip of values, whose bytes must be what the format says: format 3
// (little-endian float64s) where all values are finite numbers, format 2 (one
// JSON array text, as TextEncoder makes it) where all are JSON, format 1 (an
// entry per item) otherwise. Strings cover ASCII, non-ASCII, lone surrogates and long ones.
import fc from 'fast-check'
import { decodeBatch, encodeValues, MAX_BATCH_ITEMS, ProtocolError } from 'peercompute'
import { ensure, FuzzFailure, target } from '../harness.ts'
import { concat, hostileBytes } from '../mutate.ts'

const enc = new TextEncoder()
const dec = new TextDecoder('utf-8', { fatal: true })

// short ASCII, short non-ASCII (lone surrogates, emoji, Latin-1), and strings past the fast path's 64
const text = fc.oneof(
  fc.string({ maxLength: 70 }),
  fc.string({ unit: 'binary', maxLength: 70 }),
  fc.constantFrom('é', '日本', '😀', '\u007f', '\u0080', 'x'.repeat(64), 'x'.repeat(65)),
)
const value = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  text,
  fc.uint8Array({ maxLength: 16 }),
  fc.bigInt({ min: -(10n ** 39n), max: 10n ** 39n }),
)
// mixed batches are format 1 on the wire; batches of JSON values only are format 2; of finite numbers only, format 3
const number = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.constantFrom(0, -0))
const values = fc.oneof(
  fc.array(value, { maxLength: 12 }),
  fc.array(fc.oneof(fc.jsonValue({ maxDepth: 2 }), text), { maxLength: 12 }),
  fc.array(number, { maxLength: 12 }),
  fc.array(fc.oneof(number, fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY)), { maxLength: 12 }),
)

/** The batch of `vs` as the format says, every payload encoded by TextEncoder. */
function referenceEncode(vs: unknown[]): Uint8Array {
  if (vs.length > 0 && vs.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    const out = new Uint8Array(8 + 8 * vs.length)
    const view = new DataView(out.buffer)
    out[0] = 3
    view.setUint32(1, vs.length)
    for (let i = 0; i < vs.length; i++)
      view.setFloat64(8 + 8 * i, (vs[i] as number) === 0 ? 0 : (vs[i] as number), true)
    return out
  }
  if (vs.every((v) => !(v instanceof Uint8Array) && typeof v !== 'bigint'))
    return concat(Uint8Array.of(2, ...u32(vs.length)), enc.encode(JSON.stringify(vs)))
  const parts: Uint8Array[] = [Uint8Array.of(1, ...u32(vs.length))]
  for (const v of vs) {
    const [tag, bytes] =
      v instanceof Uint8Array
        ? [1, v]
        : typeof v === 'bigint'
          ? [2, enc.encode(v.toString())]
          : [0, enc.encode(JSON.stringify(v))]
    parts.push(Uint8Array.of(tag, ...u32(bytes.length)), bytes)
  }
  return concat(...parts)
}

function u32(n: number): number[] {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]
}

/** What decodeBatch must return for `b`: its values, or 'error' where it must throw ProtocolError. */
function referenceDecode(b: Uint8Array): unknown[] | 'error' {
  if (b.length < 5 || (b[0] !== 1 && b[0] !== 2 && b[0] !== 3)) return 'error'
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength)
  const count = view.getUint32(1)
  if (b[0] === 3) {
    if (count > MAX_BATCH_ITEMS || b.length !== 8 + 8 * count || b[5] || b[6] || b[7]) return 'error'
    const out = Array.from({ length: count }, (_, i) => view.getFloat64(8 + 8 * i, true))
    return out.every(Number.isFinite) ? out : 'error'
  }
  if (b[0] === 2) {
    if (count > MAX_BATCH_ITEMS || count * 2 > b.length - 5) return 'error'
    try {
      const out: unknown = JSON.parse(dec.decode(b.subarray(5)))
      return Array.isArray(out) && out.length === count ? out : 'error'
    } catch {
      return 'error'
    }
  }
  if (count > MAX_BATCH_ITEMS || count * 5 > b.length - 5) return 'error'
  const out: unknown[] = []
  let at = 5
  for (let i = 0; i < count; i++) {
    if (at + 5 > b.length) return 'error'
    const tag = b[at]
    const len = view.getUint32(at + 1)
    if (len > b.length - at - 5) return 'error'
    const bytes = b.subarray(at + 5, at + 5 + len)
    try {
      if (tag === 1) out.push(bytes)
      else if (tag === 0) out.push(JSON.parse(dec.decode(bytes)))
      else if (tag === 2) {
        const s = dec.decode(bytes)
        if (!/^-?[0-9]{1,40}$/.test(s)) return 'error'
        out.push(BigInt(s))
      } else return 'error'
    } catch {
      return 'error'
    }
    at += 5 + len
  }
  return at === b.length ? out : 'error'
}

const same = (a: unknown, b: unknown): boolean =>
  a instanceof Uint8Array && b instanceof Uint8Array
    ? Buffer.compare(a, b) === 0
    : typeof a === 'bigint' || typeof b === 'bigint'
      ? a === b
      : JSON.stringify(a) === JSON.stringify(b)

/** Any bytes decode as the reference decodes them, or fail with ProtocolError where it fails. */
export const mapBatchDecode = target({
  name: 'map-batch.decode',
  arbitrary: hostileBytes(values.map(referenceEncode)),
  check(b) {
    const want = referenceDecode(b)
    let got: unknown[] | 'error'
    try {
      got = decodeBatch(b)
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw new FuzzFailure(`untyped error: ${(err as Error)?.stack ?? err}`)
      got = 'error'
    }
    if (want === 'error' || got === 'error') {
      ensure(
        want === got,
        () =>
          `decodeBatch ${got === 'error' ? 'refused' : 'took'} what the reference ${want === 'error' ? 'refuses' : 'takes'}`,
      )
      return
    }
    ensure(got.length === want.length && got.every((v, i) => same(v, want[i])), 'values differ from the reference')
  },
})

/** Values come back as they went in, in bytes TextEncoder would have made. */
export const mapBatchRoundTrip = target({
  name: 'map-batch.roundtrip',
  arbitrary: values,
  check(vs) {
    const b = encodeValues(vs)
    ensure(Buffer.compare(b, referenceEncode(vs)) === 0, 'the batch bytes differ from the format')
    const back = decodeBatch(b, vs.length)
    ensure(
      back.every((v, i) => same(v, vs[i])),
      'values changed on the way',
    )
  },
})
