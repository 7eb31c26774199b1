import { ProtocolError } from '../errors.js'
import { concatBytes, encodeVarint } from '../wire/frames.js'
import { BUNDLE_CODE_MAX, type CodeManifest, decodeManifest, encodeManifest, MANIFEST_MAX_BYTES } from './manifest.js'

// A signed bundle's bytes (PROTOCOL.md, "Signed code bundles"): pure encode and
// decode, every length bounded before anything is read, nothing after the code.

/** The first three bytes of every bundle: "PCB". */
export const BUNDLE_MAGIC = Uint8Array.of(0x50, 0x43, 0x42)
/** The bundle format this release reads and writes (the byte after the magic). */
export const BUNDLE_FORMAT = 1
/** The signature algorithm byte for Ed25519 (the only one). */
export const SIG_ED25519 = 1
/** Bytes of an Ed25519 public key and signature. */
export const PUBLIC_KEY_BYTES = 32
export const SIGNATURE_BYTES = 64
/** Largest bundle, bytes: the largest manifest and code with every header field. */
export const BUNDLE_MAX_BYTES =
  4 + 3 + MANIFEST_MAX_BYTES + 1 + PUBLIC_KEY_BYTES + SIGNATURE_BYTES + 4 + BUNDLE_CODE_MAX
/**
 * What the signature covers, before the manifest's bytes: this protocol and
 * format, so a signature made for anything else never verifies here.
 */
export const SIGNED_PREFIX = new TextEncoder().encode('peercompute-bundle/1\n')

/** A decoded bundle: the manifest (with its exact bytes), the signer's key and signature, the code. */
export interface SignedBundle {
  manifest: CodeManifest
  /** The manifest's canonical bytes as they arrived (what the signature covers, after SIGNED_PREFIX). */
  manifestBytes: Uint8Array
  /** The signer's raw Ed25519 public key (32 bytes). */
  publicKey: Uint8Array
  /** The Ed25519 signature (64 bytes) over SIGNED_PREFIX ‖ manifestBytes. */
  signature: Uint8Array
  code: Uint8Array
}

/** What `encodeBundle` takes: the manifest bytes are made from `manifest`. */
export type BundleParts = Omit<SignedBundle, 'manifestBytes'>

/** Whether `bytes` start like a bundle (the magic): anything else is unsigned code. */
export function looksLikeBundle(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 3 && bytes[0] === BUNDLE_MAGIC[0] && bytes[1] === BUNDLE_MAGIC[1] && bytes[2] === BUNDLE_MAGIC[2]
  )
}

/** The bundle's bytes. Throws `ProtocolError` for a manifest, key, signature or code the format does not allow. */
export function encodeBundle(b: BundleParts): Uint8Array {
  const manifest = encodeManifest(b.manifest)
  if (b.publicKey.length !== PUBLIC_KEY_BYTES) throw new ProtocolError(`a public key is ${PUBLIC_KEY_BYTES} bytes`)
  if (b.signature.length !== SIGNATURE_BYTES) throw new ProtocolError(`a signature is ${SIGNATURE_BYTES} bytes`)
  if (b.code.length > BUNDLE_CODE_MAX)
    throw new ProtocolError(`code of ${b.code.length} bytes is over ${BUNDLE_CODE_MAX}`)
  return concatBytes([
    BUNDLE_MAGIC,
    Uint8Array.of(BUNDLE_FORMAT),
    encodeVarint(manifest.length),
    manifest,
    Uint8Array.of(SIG_ED25519),
    b.publicKey,
    b.signature,
    encodeVarint(b.code.length),
    b.code,
  ])
}

/**
 * Decodes a bundle. Refuses with `ProtocolError`, before allocating for it,
 * anything over `maxCodeBytes` (default and at most BUNDLE_CODE_MAX) and every
 * deviation: wrong magic or format, a varint that is not minimal or too long, a
 * length past the end, an unknown signature algorithm, a manifest that is not
 * canonical, bytes after the code. Everything returned is a copy: changing
 * `bytes` afterwards changes nothing that was decoded.
 * Does not check the signature or the code's hash: that is `verifyBundle`.
 */
export function decodeBundle(bytes: Uint8Array, opts: { maxCodeBytes?: number } = {}): SignedBundle {
  const maxCode = Math.min(opts.maxCodeBytes ?? BUNDLE_CODE_MAX, BUNDLE_CODE_MAX)
  if (bytes.length > BUNDLE_MAX_BYTES)
    throw new ProtocolError(`bundle of ${bytes.length} bytes is over ${BUNDLE_MAX_BYTES}`)
  if (!looksLikeBundle(bytes)) throw new ProtocolError('not a signed bundle (no PCB magic)')
  if (bytes.length < 4) throw new ProtocolError('bundle truncated in its header')
  if (bytes[3] !== BUNDLE_FORMAT)
    throw new ProtocolError(`bundle format ${bytes[3]} is not supported (only ${BUNDLE_FORMAT})`)
  let at = 4
  const take = (n: number, what: string): Uint8Array => {
    if (n > bytes.length - at) throw new ProtocolError(`bundle truncated in its ${what}`)
    const out = new Uint8Array(bytes.subarray(at, at + n)) // a plain copy (a Buffer's own slice() is a view)
    at += n
    return out
  }
  const varint = (max: number, what: string): number => {
    const [n, next] = readVarint(bytes, at, what)
    if (n > max) throw new ProtocolError(`bundle ${what} of ${n} is over ${max}`)
    at = next
    return n
  }
  const mlen = varint(MANIFEST_MAX_BYTES, 'manifest length')
  const manifestBytes = take(mlen, 'manifest')
  const manifest = decodeManifest(manifestBytes)
  const [alg] = take(1, 'signature algorithm')
  if (alg !== SIG_ED25519)
    throw new ProtocolError(`signature algorithm ${alg} is not supported (only Ed25519, ${SIG_ED25519})`)
  const publicKey = take(PUBLIC_KEY_BYTES, 'public key')
  const signature = take(SIGNATURE_BYTES, 'signature')
  const clen = varint(maxCode, 'code length')
  const code = take(clen, 'code')
  if (at !== bytes.length) throw new ProtocolError(`${bytes.length - at} bytes after the bundle's code`)
  return { manifest, manifestBytes, publicKey, signature, code }
}

/** A minimal unsigned LEB128 varint of at most 4 bytes (2^28 − 1) at `at`: [value, next offset]. */
function readVarint(p: Uint8Array, at: number, what: string): [number, number] {
  let n = 0
  for (let i = 0; i < 4; i++) {
    if (at + i >= p.length) throw new ProtocolError(`bundle truncated in its ${what}`)
    const b = p[at + i]
    n += (b & 0x7f) * 2 ** (7 * i)
    if ((b & 0x80) === 0) {
      if (b === 0 && i > 0) throw new ProtocolError(`bundle ${what} is not a minimal varint`)
      return [n, at + i + 1]
    }
  }
  throw new ProtocolError(`bundle ${what} varint is longer than 4 bytes`)
}
