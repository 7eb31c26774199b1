import { InvalidOptionError, ProtocolError } from '../errors.js'
import { encodeBundle, SIGNED_PREFIX } from './bundle-format.js'
import { type PublisherKey, parsePublicKey } from './keys.js'
import { type CodeBinding, type CodeKind, type CodeLimits, type CodeManifest, encodeManifest } from './manifest.js'

/** What the publisher states about the code it signs (the hash and size are computed). */
export interface SignInit {
  name: string
  version: string
  kind: CodeKind
  /** Default: `default` for a kernel (its default export), `main` for a shader. */
  entry?: string
  /** A shader's bindings (required for `wgsl`, at least one); sorted by number here. */
  bindings?: CodeBinding[]
  limits?: CodeLimits
  /** When the signature stops being good. */
  expires?: Date | string
}

/** SHA-256 of `bytes` as 64 lower-case hex digits (WebCrypto). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(bytes)))
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')
}

/** The manifest `signBundle` would sign for `code` (checked; `InvalidOptionError` for a field out of its rules). */
export async function makeManifest(code: Uint8Array, init: SignInit): Promise<CodeManifest> {
  const expires = init.expires === undefined ? undefined : new Date(init.expires)
  if (expires && !Number.isFinite(expires.getTime())) throw new InvalidOptionError('expires is not a valid time')
  const manifest: CodeManifest = {
    name: init.name,
    version: init.version,
    kind: init.kind,
    sha256: await sha256Hex(code),
    size: code.length,
    entry: init.entry ?? (init.kind === 'wgsl' ? 'main' : 'default'),
    bindings: [...(init.bindings ?? [])].sort((a, b) => a.binding - b.binding),
    limits: { ...init.limits },
    ...(expires ? { expires: expires.toISOString() } : {}),
  }
  try {
    encodeManifest(manifest)
  } catch (err) {
    if (err instanceof ProtocolError) throw new InvalidOptionError(err.message)
    throw err
  }
  return manifest
}

/**
 * Signs `code` as a bundle (PROTOCOL.md, "Signed code bundles"): its manifest,
 * the publisher's public key, an Ed25519 signature over the manifest's
 * canonical bytes, then the code. Bad fields are an `InvalidOptionError`.
 */
export async function signBundle(code: Uint8Array, init: SignInit, key: PublisherKey): Promise<Uint8Array> {
  const own = new Uint8Array(code) // the bytes hashed are the bytes packed
  const manifest = await makeManifest(own, init)
  const manifestBytes = encodeManifest(manifest)
  const message = new Uint8Array(SIGNED_PREFIX.length + manifestBytes.length)
  message.set(SIGNED_PREFIX)
  message.set(manifestBytes, SIGNED_PREFIX.length)
  const signature = new Uint8Array(await crypto.subtle.sign('Ed25519', key.privateKey, message))
  try {
    return encodeBundle({ manifest, publicKey: parsePublicKey(key.publicKey), signature, code: own })
  } catch (err) {
    if (err instanceof ProtocolError) throw new InvalidOptionError(err.message)
    throw err
  }
}
