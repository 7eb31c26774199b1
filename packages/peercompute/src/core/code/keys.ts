import { InvalidOptionError } from '../errors.js'
import { fromBase64, toBase64, toBase64Url } from './base64.js'
import { PUBLIC_KEY_BYTES } from './bundle-format.js'

// Publisher keys: Ed25519 through WebCrypto (Node ≥ 22, current browsers). A
// public key's printable form is "ed25519:" and the base64url of its 32 raw
// bytes; a secret key is stored as a PKCS#8 PEM file ("BEGIN PRIVATE KEY"),
// which OpenSSL and every WebCrypto read.

/** The prefix of a public key's printable form. */
export const PUBLIC_KEY_PREFIX = 'ed25519:'

const ED25519 = { name: 'Ed25519' } as const
/** A WebCrypto key (`CryptoKey` where the DOM types are loaded, opaque in platform-neutral code). */
export type WebCryptoKey = Parameters<typeof crypto.subtle.exportKey>[1]
const PEM = /^-----BEGIN PRIVATE KEY-----\r?\n([A-Za-z0-9+/=\r\n]{1,8192})-----END PRIVATE KEY-----\r?\n?$/

/** A publisher's signing key, loaded: its public key in printable form and the WebCrypto private key. */
export interface PublisherKey {
  /** `ed25519:` + base64url of the raw public key: what executors put in `trust`. */
  readonly publicKey: string
  /** The WebCrypto `CryptoKey` (Ed25519, usage `sign`, not extractable). */
  readonly privateKey: WebCryptoKey
}

/** A new key pair as text: the public key's printable form and the secret key as PKCS#8 PEM. */
export interface NewPublisherKey {
  publicKey: string
  /** Keep it secret: whoever has it signs code that executors trusting `publicKey` run. */
  secretKeyPem: string
}

/** `ed25519:` + base64url of a raw 32-byte Ed25519 public key. */
export function formatPublicKey(raw: Uint8Array): string {
  if (raw.length !== PUBLIC_KEY_BYTES)
    throw new InvalidOptionError(`an Ed25519 public key is ${PUBLIC_KEY_BYTES} bytes`)
  return PUBLIC_KEY_PREFIX + toBase64Url(raw)
}

/** The raw 32 bytes of a public key in printable form; `InvalidOptionError` for anything else. */
export function parsePublicKey(text: string): Uint8Array {
  const raw =
    typeof text === 'string' && text.startsWith(PUBLIC_KEY_PREFIX)
      ? fromBase64(text.slice(PUBLIC_KEY_PREFIX.length), true)
      : undefined
  if (raw?.length !== PUBLIC_KEY_BYTES)
    throw new InvalidOptionError(
      `${JSON.stringify(String(text).slice(0, 80))} is not a publisher key (${PUBLIC_KEY_PREFIX} and 43 base64url characters)`,
    )
  return raw
}

/** Makes a new Ed25519 key pair (WebCrypto). */
export async function generatePublisherKey(): Promise<NewPublisherKey> {
  const pair = (await crypto.subtle.generateKey(ED25519, true, ['sign', 'verify'])) as {
    publicKey: WebCryptoKey
    privateKey: WebCryptoKey
  }
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey))
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey))
  const lines = toBase64(pkcs8).match(/.{1,64}/g) ?? []
  return {
    publicKey: formatPublicKey(raw),
    secretKeyPem: `-----BEGIN PRIVATE KEY-----\n${lines.join('\n')}\n-----END PRIVATE KEY-----\n`,
  }
}

/** Loads a secret key from its PKCS#8 PEM text; `InvalidOptionError` if it is not an Ed25519 private key. */
export async function importPublisherKey(pem: string): Promise<PublisherKey> {
  const body = typeof pem === 'string' ? PEM.exec(pem)?.[1] : undefined
  const der = body === undefined ? undefined : fromBase64(body.replace(/\r?\n/g, ''))
  if (!der) throw new InvalidOptionError('not a PEM secret key (-----BEGIN PRIVATE KEY-----)')
  let jwk: { x?: string }
  let privateKey: WebCryptoKey
  try {
    // extractable once, to read its public half (JWK `x`: base64url of the raw public key)
    const extractable = (await crypto.subtle.importKey('pkcs8', der, ED25519, true, ['sign'])) as WebCryptoKey
    jwk = (await crypto.subtle.exportKey('jwk', extractable)) as { x?: string }
    privateKey = (await crypto.subtle.importKey('pkcs8', der, ED25519, false, ['sign'])) as WebCryptoKey
  } catch (err) {
    throw new InvalidOptionError('the secret key is not an Ed25519 PKCS#8 key', { cause: err })
  }
  return { publicKey: PUBLIC_KEY_PREFIX + (jwk.x ?? ''), privateKey }
}
