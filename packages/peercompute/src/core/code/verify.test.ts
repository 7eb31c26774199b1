import { describe, expect, it } from 'vitest'
import { InvalidOptionError, ProtocolError, UntrustedCodeError, type UntrustedCodeReason } from '../errors.js'
import { decodeBundle, encodeBundle } from './bundle-format.js'
import { generatePublisherKey, importPublisherKey, type PublisherKey } from './keys.js'
import { encodeManifest } from './manifest.js'
import { signBundle } from './sign.js'
import { verifyBundle } from './verify.js'

const code = new TextEncoder().encode('export default (input) => input.map((x) => x + 1)\n')
const publisher = await generatePublisherKey()
const key = await importPublisherKey(publisher.secretKeyPem)
const stranger = await importPublisherKey((await generatePublisherKey()).secretKeyPem)
const trust = [publisher.publicKey]
const sign = (k: PublisherKey = key, extra: { expires?: string } = {}) =>
  signBundle(code, { name: 'inc', version: '1.0.0', kind: 'kernel', ...extra }, k)

async function refusal(bundle: Uint8Array, opts: Parameters<typeof verifyBundle>[1] = { trust }) {
  const err = await verifyBundle(bundle, opts).then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(UntrustedCodeError)
  return (err as UntrustedCodeError).reason
}

describe('verifyBundle', () => {
  it('accepts a bundle signed by a trusted key and returns exactly its code', async () => {
    const bundle = await sign()
    const v = await verifyBundle(bundle, { trust })
    expect(v.code).toEqual(code)
    expect(v.publicKey).toBe(publisher.publicKey)
    expect(v.manifest).toMatchObject({
      name: 'inc',
      version: '1.0.0',
      kind: 'kernel',
      entry: 'default',
      size: code.length,
    })
    // the code returned is a copy: changing the bundle afterwards changes nothing verified
    bundle.fill(0)
    expect(v.code).toEqual(code)
  })

  it('accepts raw key bytes in trust and refuses a malformed trust entry as the caller’s error', async () => {
    const raw = decodeBundle(await sign()).publicKey
    await expect(verifyBundle(await sign(), { trust: [raw] })).resolves.toBeTruthy()
    await expect(verifyBundle(await sign(), { trust: ['ed25519:nope'] })).rejects.toThrow(InvalidOptionError)
  })

  it('refuses unsigned code', async () => {
    expect(await refusal(code)).toBe<UntrustedCodeReason>('unsigned')
    expect(await refusal(new Uint8Array(0))).toBe('unsigned')
  })

  it('refuses a tampered byte in the code', async () => {
    const bundle = await sign()
    bundle[bundle.length - 5] ^= 0x01
    expect(await refusal(bundle)).toBe('code-mismatch')
  })

  it('refuses a tampered manifest (a canonical manifest with one field changed)', async () => {
    const b = decodeBundle(await sign())
    const forged = encodeBundle({ ...b, manifest: { ...b.manifest, limits: { timeoutMs: 1 } } })
    expect(await refusal(forged)).toBe('bad-signature')
    // a manifest whose hash names other code, with that code: still the signature
    const other = new TextEncoder().encode('export default () => globalThis.process.exit(1)\n')
    const { sha256Hex } = await import('./sign.js')
    const swapped = encodeBundle({
      ...b,
      manifest: { ...b.manifest, sha256: await sha256Hex(other), size: other.length },
      code: other,
    })
    expect(await refusal(swapped)).toBe('bad-signature')
  })

  it('refuses a key that is not trusted, and trusts nobody with an empty list', async () => {
    expect(await refusal(await sign(stranger))).toBe('unknown-key')
    expect(await refusal(await sign(), { trust: [] })).toBe('unknown-key')
    // a stranger's valid signature, with the trusted key's bytes put in its place
    const b = decodeBundle(await sign(stranger))
    const relabelled = encodeBundle({ ...b, publicKey: decodeBundle(await sign()).publicKey })
    expect(await refusal(relabelled)).toBe('bad-signature')
  })

  it('refuses an expired bundle and accepts it before its expiry', async () => {
    const bundle = await sign(key, { expires: '2030-01-01T00:00:00.000Z' })
    await expect(verifyBundle(bundle, { trust, now: Date.parse('2029-12-31T23:59:59Z') })).resolves.toBeTruthy()
    expect(await refusal(bundle, { trust, now: Date.parse('2030-01-01T00:00:00Z') })).toBe('expired')
    expect(await refusal(await sign(key, { expires: '2001-01-01T00:00:00.000Z' }))).toBe('expired')
  })

  it('refuses a malformed signature', async () => {
    const b = decodeBundle(await sign())
    for (const signature of [
      new Uint8Array(64),
      new Uint8Array(64).fill(0xff),
      b.signature.map((x, i) => (i === 0 ? x ^ 0x80 : x)),
    ]) {
      expect(await refusal(encodeBundle({ ...b, signature }))).toBe('bad-signature')
    }
    // an all-zero public key (a small-order point) that someone put in trust
    const zero = new Uint8Array(32)
    expect(await refusal(encodeBundle({ ...b, publicKey: zero }), { trust: [zero] })).toBe('bad-signature')
  })

  it('refuses truncated, extended and oversized bundles as malformed', async () => {
    const bundle = await sign()
    for (const n of [3, 4, 5, 20, bundle.length - 1]) expect(await refusal(bundle.slice(0, n))).toBe('malformed')
    const longer = new Uint8Array(bundle.length + 1)
    longer.set(bundle)
    expect(await refusal(longer)).toBe('malformed')
    expect(await refusal(bundle, { trust, maxCodeBytes: code.length - 1 })).toBe('malformed')
    const err = await verifyBundle(bundle.slice(0, 20), { trust }).catch((e: UntrustedCodeError) => e)
    expect((err as UntrustedCodeError).cause).toBeInstanceOf(ProtocolError)
  })

  it('signs deterministically (Ed25519): the same code and manifest give the same bundle', async () => {
    expect(await sign()).toEqual(await sign())
    expect(encodeManifest(decodeBundle(await sign()).manifest)).toEqual(decodeBundle(await sign()).manifestBytes)
  })
})
