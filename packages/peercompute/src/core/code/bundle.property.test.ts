// Seeded property tests of the bundle format and its verification (fast-check;
// SEED=n to replay a run).
import { testSeed } from '@peercompute/kernels/testing'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ProtocolError, UntrustedCodeError } from '../errors.js'
import { decodeBundle, encodeBundle } from './bundle-format.js'
import { generatePublisherKey, importPublisherKey } from './keys.js'
import { BUNDLE_CODE_MAX, type CodeManifest } from './manifest.js'
import { signBundle } from './sign.js'
import { verifyBundle } from './verify.js'

const seed = testSeed(0xb0d1e)
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')

const bindings = fc
  .uniqueArray(fc.nat({ max: 1023 }), { minLength: 1, maxLength: 16 })
  .chain((ns) =>
    fc.tuple(
      ...ns.map((n) => fc.constantFrom('storage-read', 'storage', 'uniform').map((kind) => ({ binding: n, kind }))),
    ),
  )
  .map((bs) => [...bs].sort((a, b) => a.binding - b.binding))

/** Every manifest the format allows (the hash and size need not match any code here). */
const manifest: fc.Arbitrary<CodeManifest> = fc
  .record(
    {
      name: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/),
      version: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9.+-]{0,31}$/),
      kind: fc.constantFrom('kernel' as const, 'wgsl' as const),
      sha256: fc.uint8Array({ minLength: 32, maxLength: 32 }).map(hex),
      size: fc.nat({ max: BUNDLE_CODE_MAX }),
      entry: fc.stringMatching(/^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/),
      bindings,
      limits: fc.record(
        {
          maxInputBytes: fc.nat({ max: 2 ** 40 }),
          maxOutputBytes: fc.nat({ max: 2 ** 40 }),
          timeoutMs: fc.integer({ min: 1, max: 604_800_000 }),
          memoryMb: fc.integer({ min: 1, max: 65_536 }),
        },
        { requiredKeys: [] },
      ),
      expires: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    },
    { requiredKeys: ['name', 'version', 'kind', 'sha256', 'size', 'entry', 'bindings', 'limits'] },
  )
  .map((m) => ({ ...m, bindings: m.kind === 'kernel' ? [] : m.bindings }))

const parts = fc.record({
  manifest,
  publicKey: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  signature: fc.uint8Array({ minLength: 64, maxLength: 64 }),
  code: fc.uint8Array({ maxLength: 512 }),
})

/** An edit of a valid bundle: flip bits, set bytes, cut, extend, insert or delete. */
const edit = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.nat({ max: 255 }) }),
  fc.record({ op: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({
    op: fc.constant('splice' as const),
    at: fc.nat(),
    remove: fc.nat({ max: 8 }),
    bytes: fc.uint8Array({ maxLength: 8 }),
  }),
)
type Edit = typeof edit extends fc.Arbitrary<infer E> ? E : never

function apply(b: Uint8Array, edits: Edit[]): Uint8Array {
  let out = b.slice()
  for (const e of edits) {
    const at = out.length ? e.at % out.length : 0
    if (e.op === 'flip' && out.length) out[at] ^= 1 << e.bit
    else if (e.op === 'set' && out.length) out[at] = e.value
    else if (e.op === 'cut') out = out.slice(0, at)
    else if (e.op === 'splice') {
      const next = new Uint8Array([...out.subarray(0, at), ...e.bytes, ...out.subarray(at + e.remove)])
      out = next
    }
  }
  return out
}

describe('bundle format (property)', () => {
  it(`decode(encode(x)) is x for every valid bundle (seed ${seed})`, () => {
    fc.assert(
      fc.property(parts, (p) => {
        const bytes = encodeBundle(p)
        const back = decodeBundle(bytes)
        expect(back.manifest).toEqual(p.manifest)
        expect(back.publicKey).toEqual(p.publicKey)
        expect(back.signature).toEqual(p.signature)
        expect(back.code).toEqual(p.code)
        expect(encodeBundle(back)).toEqual(bytes)
      }),
      { seed, numRuns: 2000 },
    )
  })

  it(`a mutated bundle is refused with a typed error or verifies to exactly the original code (seed ${seed})`, async () => {
    const pub = await generatePublisherKey()
    const key = await importPublisherKey(pub.secretKeyPem)
    let accepted = 0
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 256 }),
        fc.constantFrom('kernel' as const, 'wgsl' as const),
        fc.array(edit, { minLength: 1, maxLength: 4 }),
        async (code, kind, edits) => {
          const bindings = kind === 'wgsl' ? [{ binding: 0, kind: 'storage' as const }] : []
          const valid = await signBundle(code, { name: 'p', version: '1', kind, bindings }, key)
          const original = decodeBundle(valid)
          const bad = apply(valid, edits)
          try {
            decodeBundle(bad)
          } catch (err) {
            expect(err).toBeInstanceOf(ProtocolError)
          }
          try {
            const v = await verifyBundle(bad, { trust: [pub.publicKey] })
            expect(v.code).toEqual(code)
            expect(v.manifest).toEqual(original.manifest)
            accepted++
          } catch (err) {
            expect(err).toBeInstanceOf(UntrustedCodeError)
          }
        },
      ),
      { seed, numRuns: 1000 },
    )
    // only edits that undo themselves (a byte set to its own value, an empty splice) can verify
    expect(accepted).toBeLessThan(1000)
  })
})
