import { describe, expect, it } from 'vitest'
import { ProtocolError } from '../errors.js'
import { encodeVarint } from '../wire/frames.js'
import { BUNDLE_MAX_BYTES, decodeBundle, encodeBundle, looksLikeBundle } from './bundle-format.js'
import { encodeManifest } from './manifest.js'

const manifest = {
  name: 'inc',
  version: '1',
  kind: 'kernel' as const,
  sha256: '00'.repeat(32),
  size: 3,
  entry: 'default',
  bindings: [],
  limits: {},
}
const parts = {
  manifest,
  publicKey: new Uint8Array(32).fill(7),
  signature: new Uint8Array(64).fill(9),
  code: Uint8Array.of(1, 2, 3),
}
const m = encodeManifest(manifest)
const mlen = [...encodeVarint(m.length)]
/** Where the manifest starts: magic, format, its length. */
const M = 4 + mlen.length

describe('bundle format', () => {
  it('lays out magic, format, manifest, algorithm, key, signature, code', () => {
    const b = encodeBundle(parts)
    expect([...b.subarray(0, M)]).toEqual([0x50, 0x43, 0x42, 0x01, ...mlen])
    expect(b.subarray(M, M + m.length)).toEqual(m)
    let at = M + m.length
    expect(b[at++]).toBe(1)
    expect(b.subarray(at, at + 32)).toEqual(parts.publicKey)
    expect(b.subarray(at + 32, at + 96)).toEqual(parts.signature)
    expect([...b.subarray(at + 96)]).toEqual([3, 1, 2, 3])
    expect(looksLikeBundle(b)).toBe(true)
    expect(decodeBundle(b).manifestBytes).toEqual(m)
  })

  it('matches the example in PROTOCOL.md', () => {
    const empty = encodeBundle({
      ...parts,
      manifest: {
        ...manifest,
        version: '1.0.0',
        size: 0,
        sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      },
      code: new Uint8Array(0),
    })
    expect(empty.length).toBe(281)
    expect([...empty.subarray(0, 6)]).toEqual([0x50, 0x43, 0x42, 0x01, 0xb1, 0x01])
    expect(new TextDecoder().decode(empty.subarray(6, 6 + 177))).toBe(
      '{"bindings":[],"entry":"default","kind":"kernel","limits":{},"name":"inc",' +
        '"sha256":"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855","size":0,"version":"1.0.0"}',
    )
    expect(empty[280]).toBe(0)
    expect(BUNDLE_MAX_BYTES).toBe(8_405_100)
  })

  it('returns copies: changing the input afterwards changes nothing decoded', () => {
    const b = encodeBundle(parts)
    const d = decodeBundle(b)
    b.fill(0)
    expect(d.code).toEqual(parts.code)
    expect(d.signature).toEqual(parts.signature)
    // a Node Buffer too, as the network hands bytes over (its own slice() is a view)
    const buf = Buffer.from(encodeBundle(parts))
    const fromBuf = decodeBundle(buf)
    buf.fill(0)
    expect(fromBuf.code).toEqual(parts.code)
    expect(fromBuf.manifestBytes).toEqual(d.manifestBytes)
  })

  const b = encodeBundle(parts)
  const codeAt = b.length - 4
  /** The bundle with the byte at `at` replaced. */
  const setByte = (at: number, value: number) => {
    const c = b.slice()
    c[at] = value
    return c
  }
  const cases: [string, Uint8Array, RegExp][] = [
    ['no magic', setByte(0, 0x51), /magic/],
    ['an unknown format', setByte(3, 2), /format 2/],
    ['an unknown signature algorithm', setByte(M + m.length, 2), /algorithm 2/],
    ['bytes after the code', new Uint8Array([...b, 0]), /after/],
    ['a truncated code', b.slice(0, -1), /truncated in its code/],
    ['a truncated signature', b.slice(0, M + m.length + 40), /truncated in its public key|truncated in its signature/],
    ['a manifest length past the end', new Uint8Array([...b.subarray(0, 4), 0xff, 0x7f]), /over|truncated/],
    ['a non-minimal varint', new Uint8Array([...b.subarray(0, codeAt), 0x83, 0x00, 1, 2, 3]), /minimal/],
    ['a varint over 4 bytes', new Uint8Array([...b.subarray(0, codeAt), 0x80, 0x80, 0x80, 0x80, 0x01]), /longer/],
    [
      'a declared code length over the limit (nothing allocated)',
      new Uint8Array([...b.subarray(0, codeAt), 0xff, 0xff, 0xff, 0x7f]),
      /over/,
    ],
    ['a manifest that is not canonical', setByte(M, 0x20), /manifest/],
  ]
  for (const [what, bytes, message] of cases) {
    it(`refuses ${what} with ProtocolError`, () => {
      expect(() => decodeBundle(bytes)).toThrow(ProtocolError)
      expect(() => decodeBundle(bytes)).toThrow(message)
    })
  }

  it('refuses an oversized bundle before reading it, and code over the caller’s bound', () => {
    expect(() => decodeBundle(new Uint8Array(BUNDLE_MAX_BYTES + 1))).toThrow(/over/)
    expect(() => decodeBundle(b, { maxCodeBytes: 2 })).toThrow(/code length of 3 is over 2/)
  })

  it('refuses to encode what it could not decode', () => {
    expect(() => encodeBundle({ ...parts, publicKey: new Uint8Array(31) })).toThrow(ProtocolError)
    expect(() => encodeBundle({ ...parts, signature: new Uint8Array(63) })).toThrow(ProtocolError)
    expect(() => encodeBundle({ ...parts, manifest: { ...manifest, name: '' } })).toThrow(ProtocolError)
  })
})
