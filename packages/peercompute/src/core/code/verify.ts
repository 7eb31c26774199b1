import { InvalidOptionError, ProtocolError, UntrustedCodeError } from '../errors.js'
import { decodeBundle, looksLikeBundle, SIGNED_PREFIX } from './bundle-format.js'
import { formatPublicKey, parsePublicKey, type WebCryptoKey } from './keys.js'
import type { CodeManifest } from './manifest.js'
import { sha256Hex } from './sign.js'

/** What `verifyBundle` checks a bundle against. */
export interface VerifyOptions {
  /** The publisher keys whose code may run (`ed25519:…` text or 32 raw bytes). Empty trusts nobody. */
  trust: readonly (string | Uint8Array)[]
  /** The time to judge `expires` by (default now). */
  now?: Date | number
  /** Refuse code over this many bytes (default and at most BUNDLE_CODE_MAX). */
  maxCodeBytes?: number
}

/** Code that passed every check: run `code` as `manifest` says, and only these bytes. */
export interface VerifiedCode {
  manifest: CodeManifest
  /** The code (a copy: nothing the caller does to the bundle's bytes changes it). */
  code: Uint8Array
  /** The publisher key that signed it, in printable form. */
  publicKey: string
}

/**
 * Checks a signed bundle before anything compiles or runs its code, in this
 * order, refusing with `UntrustedCodeError` (its `reason`): not a bundle at all
 * (`unsigned`); a malformed bundle (`malformed`, the `ProtocolError` as
 * `cause`); a signer not in `trust` (`unknown-key`); a signature that does not
 * verify over the manifest (`bad-signature`); an expiry in the past
 * (`expired`); code whose size or SHA-256 is not the manifest's
 * (`code-mismatch`). A bad `trust` entry is the caller's `InvalidOptionError`.
 * Platform-neutral (WebCrypto Ed25519 and SHA-256).
 */
export async function verifyBundle(bundle: Uint8Array, opts: VerifyOptions): Promise<VerifiedCode> {
  const trusted = new Set(
    (opts.trust ?? []).map((k) => (typeof k === 'string' ? formatPublicKey(parsePublicKey(k)) : formatPublicKey(k))),
  )
  const now = opts.now === undefined ? Date.now() : new Date(opts.now).getTime()
  if (!Number.isFinite(now)) throw new InvalidOptionError('now is not a valid time')
  if (!(bundle instanceof Uint8Array)) throw new UntrustedCodeError('unsigned', 'code must arrive as a signed bundle')
  if (!looksLikeBundle(bundle)) throw new UntrustedCodeError('unsigned', 'refused unsigned code: not a signed bundle')
  let b: ReturnType<typeof decodeBundle>
  try {
    b = decodeBundle(bundle, { maxCodeBytes: opts.maxCodeBytes })
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err
    throw new UntrustedCodeError('malformed', `refused a malformed bundle: ${err.message}`, { cause: err })
  }
  const signer = formatPublicKey(b.publicKey)
  const what = `${b.manifest.name}@${b.manifest.version}`
  if (!trusted.has(signer))
    throw new UntrustedCodeError('unknown-key', `refused ${what}: signed by ${signer}, not a trusted key`)
  if (!(await signatureHolds(b.publicKey, b.signature, b.manifestBytes)))
    throw new UntrustedCodeError('bad-signature', `refused ${what}: the signature does not verify`)
  if (b.manifest.expires !== undefined && Date.parse(b.manifest.expires) <= now)
    throw new UntrustedCodeError('expired', `refused ${what}: expired at ${b.manifest.expires}`)
  if (b.code.length !== b.manifest.size || (await sha256Hex(b.code)) !== b.manifest.sha256)
    throw new UntrustedCodeError('code-mismatch', `refused ${what}: the code does not match its manifest's SHA-256`)
  return { manifest: b.manifest, code: b.code, publicKey: signer }
}

/** Whether `signature` is the key's Ed25519 signature over SIGNED_PREFIX ‖ manifest (false for a key WebCrypto refuses). */
async function signatureHolds(publicKey: Uint8Array, signature: Uint8Array, manifest: Uint8Array): Promise<boolean> {
  const message = new Uint8Array(SIGNED_PREFIX.length + manifest.length)
  message.set(SIGNED_PREFIX)
  message.set(manifest, SIGNED_PREFIX.length)
  try {
    const key = (await crypto.subtle.importKey('raw', new Uint8Array(publicKey), { name: 'Ed25519' }, false, [
      'verify',
    ])) as WebCryptoKey
    return await crypto.subtle.verify('Ed25519', key, new Uint8Array(signature), message)
  } catch {
    return false
  }
}
