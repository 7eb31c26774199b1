// Fuzz targets of signed code bundles (core/code: bundle-format.ts, manifest.ts, verify.ts).
import fc from 'fast-check'
import {
  BUNDLE_CODE_MAX,
  BUNDLE_MAGIC,
  type BundleParts,
  type CodeManifest,
  decodeBundle,
  encodeBundle,
  generatePublisherKey,
  importPublisherKey,
  ProtocolError,
  signBundle,
  UntrustedCodeError,
  verifyBundle,
} from 'peercompute'
import { ensure, sameByteLists, target, typedOnly } from '../harness.ts'
import { applyEdits, byteEdit, bytesOf, canonical, concat, editedJson, hostileBytes, varint } from '../mutate.ts'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const bindings = fc
  .uniqueArray(fc.nat({ max: 1023 }), { minLength: 1, maxLength: 16 })
  .chain((ns) =>
    fc.tuple(
      ...ns.map((n) => fc.constantFrom('storage-read', 'storage', 'uniform').map((kind) => ({ binding: n, kind }))),
    ),
  )
  .map((bs) => [...bs].sort((a, b) => a.binding - b.binding))

/** Every manifest the format allows. */
export const codeManifest: fc.Arbitrary<CodeManifest> = fc
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

/** Every bundle the format allows (the signature need not verify). */
export const bundleParts: fc.Arbitrary<BundleParts> = fc.record({
  manifest: codeManifest,
  publicKey: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  signature: fc.uint8Array({ minLength: 64, maxLength: 64 }),
  code: fc.uint8Array({ maxLength: 512 }),
})

// a bundle whose manifest is JSON with wrong types, extra fields, huge numbers, deep nesting
const editedManifests = fc.tuple(bundleParts, editedJson(codeManifest)).map(([p, json]) => {
  const m = bytesOf(json)
  return concat(
    BUNDLE_MAGIC,
    Uint8Array.of(1),
    varint(m.length),
    m,
    Uint8Array.of(1),
    p.publicKey,
    p.signature,
    varint(p.code.length),
    p.code,
  )
})

/** decodeBundle on hostile bytes: only ProtocolError; what it accepts is canonical (re-encodes to the same bytes). */
export const bundleDecode = target({
  name: 'bundle.decode',
  arbitrary: fc.oneof(hostileBytes(bundleParts.map(encodeBundle), 512), editedManifests),
  check(bytes) {
    const b = typedOnly(() => decodeBundle(bytes))
    if (!b) return
    ensure(sameByteLists([encodeBundle(b)], [bytes]), 'an accepted bundle is not its own canonical encoding')
  },
})

/** decode(encode(b)) equals b for every valid bundle. */
export const bundleRoundTrip = target({
  name: 'bundle.roundtrip',
  arbitrary: bundleParts,
  check(p) {
    const back = decodeBundle(encodeBundle(p))
    const { manifestBytes: _, ...rest } = back
    ensure(canonical(rest) === canonical(p), () => `round trip changed ${canonical(p)} into ${canonical(rest)}`)
  },
})

let keys: Promise<{ publicKey: string; key: Awaited<ReturnType<typeof importPublisherKey>> }> | undefined
function publisher() {
  keys ??= generatePublisherKey().then(async (k) => ({
    publicKey: k.publicKey,
    key: await importPublisherKey(k.secretKeyPem),
  }))
  return keys
}

/**
 * verifyBundle on signed bundles with byte edits: only UntrustedCodeError, and
 * whatever it accepts is exactly the code and manifest that were signed.
 */
export const bundleVerify = target({
  name: 'bundle.verify',
  async: true,
  arbitrary: fc.tuple(
    fc.uint8Array({ maxLength: 256 }),
    fc.constantFrom('kernel' as const, 'wgsl' as const),
    fc.array(byteEdit, { minLength: 1, maxLength: 4 }),
  ),
  async check([code, kind, edits]) {
    const { publicKey, key } = await publisher()
    const bindings = kind === 'wgsl' ? [{ binding: 0, kind: 'storage' as const }] : []
    const valid = await signBundle(code, { name: 'fuzz', version: '1', kind, bindings }, key)
    const signed = decodeBundle(valid)
    let v: Awaited<ReturnType<typeof verifyBundle>>
    try {
      v = await verifyBundle(applyEdits(valid, edits), { trust: [publicKey] })
    } catch (err) {
      ensure(err instanceof UntrustedCodeError, () => `verifyBundle threw ${(err as Error)?.stack ?? err}`)
      ensure(
        !(err.cause !== undefined && !(err.cause instanceof ProtocolError)),
        'a refusal caused by an untyped error',
      )
      return
    }
    ensure(sameByteLists([v.code], [code]), 'a mutated bundle verified to other code')
    ensure(canonical(v.manifest) === canonical(signed.manifest), 'a mutated bundle verified to another manifest')
  },
})
