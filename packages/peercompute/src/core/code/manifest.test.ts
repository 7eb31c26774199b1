import { describe, expect, it } from 'vitest'
import { ProtocolError } from '../errors.js'
import { type CodeManifest, decodeManifest, encodeManifest } from './manifest.js'

const te = new TextEncoder()
const base: CodeManifest = {
  name: 'scale',
  version: '1.2.0',
  kind: 'wgsl',
  sha256: 'ab'.repeat(32),
  size: 120,
  entry: 'main',
  bindings: [
    { binding: 0, kind: 'storage-read' },
    { binding: 1, kind: 'storage' },
  ],
  limits: { timeoutMs: 5000, maxOutputBytes: 4096 },
  expires: '2030-01-01T00:00:00.000Z',
}

describe('manifest', () => {
  it('encodes canonically: no white space, keys ascending at every level', () => {
    const text = new TextDecoder().decode(encodeManifest(base))
    expect(text).toBe(
      '{"bindings":[{"binding":0,"kind":"storage-read"},{"binding":1,"kind":"storage"}],"entry":"main",' +
        '"expires":"2030-01-01T00:00:00.000Z","kind":"wgsl","limits":{"maxOutputBytes":4096,"timeoutMs":5000},' +
        `"name":"scale","sha256":"${'ab'.repeat(32)}","size":120,"version":"1.2.0"}`,
    )
    expect(decodeManifest(encodeManifest(base))).toEqual(base)
  })

  it('refuses any other spelling of the same manifest', () => {
    const json = JSON.parse(new TextDecoder().decode(encodeManifest(base)))
    expect(() => decodeManifest(te.encode(JSON.stringify(json, null, 1)))).toThrow(/canonical/)
    const reordered = { version: json.version, ...json }
    expect(() => decodeManifest(te.encode(JSON.stringify(reordered)))).toThrow(/canonical/)
    const escaped = new TextDecoder().decode(encodeManifest(base)).replace('"scale"', '"\\u0073cale"')
    expect(() => decodeManifest(te.encode(escaped))).toThrow(/canonical/)
  })

  const bad: [string, Record<string, unknown>][] = [
    ['an unknown field', { runAs: 'root' }],
    ['a name with a slash', { name: '../x' }],
    ['an empty version', { version: '' }],
    ['an unknown kind', { kind: 'wasm' }],
    ['an upper-case hash', { sha256: 'AB'.repeat(32) }],
    ['a short hash', { sha256: 'ab' }],
    ['a size over the code limit', { size: 2 ** 40 }],
    ['an entry that is not an identifier', { entry: 'main()' }],
    ['unsorted bindings', { bindings: [...base.bindings].reverse() }],
    ['a repeated binding', { bindings: [base.bindings[0], base.bindings[0]] }],
    ['a wgsl shader without bindings', { bindings: [] }],
    ['a kernel with bindings', { kind: 'kernel' }],
    ['an unknown limit', { limits: { cpus: 4 } }],
    ['a limit out of range', { limits: { timeoutMs: 0 } }],
    ['a fractional limit', { limits: { memoryMb: 1.5 } }],
    ['a non-canonical time', { expires: '2030-01-01T00:00:00Z' }],
    ['a time that is not one', { expires: 'tomorrow' }],
    ['a __proto__ field', JSON.parse('{"__proto__":{"x":1}}')],
  ]
  for (const [what, change] of bad) {
    it(`refuses ${what} with ProtocolError`, () => {
      const json = JSON.stringify({ ...base, ...change })
      expect(() => decodeManifest(te.encode(json))).toThrow(ProtocolError)
      expect(() => encodeManifest(JSON.parse(json))).toThrow(ProtocolError)
    })
  }

  it('refuses bytes that are not UTF-8 JSON, and oversized manifests before parsing', () => {
    expect(() => decodeManifest(Uint8Array.of(0x7b, 0xff, 0x7d))).toThrow(ProtocolError)
    expect(() => decodeManifest(new Uint8Array(16 * 1024 + 1).fill(0x20))).toThrow(/too large/)
    expect(() => decodeManifest(te.encode('[]'))).toThrow(/object/)
  })
})
