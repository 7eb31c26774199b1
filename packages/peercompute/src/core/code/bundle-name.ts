import { toBase64Url } from './base64.js'

// A bundle travels by content hash: the name a task uses for it is its SHA-256,
// so whoever serves the bytes cannot swap them for others under the same name.

/** The prefix of a bundle's name. */
export const BUNDLE_NAME_PREFIX = 'bundle:'

/** `bundle:` and 43 base64url characters (the SHA-256 of the whole bundle). 50 characters: fits a kernel name (≤ 64). */
const BUNDLE_NAME = /^bundle:[A-Za-z0-9_-]{43}$/

/** The prefix a node advertises in `caps.kernels` for each publisher key it trusts (`signed:ed25519:…`). */
export const SIGNED_CAP_PREFIX = 'signed:'

/** The name tasks use for a bundle: `bundle:` + base64url(SHA-256 of the bundle's bytes). */
export async function bundleName(bundle: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(bundle)))
  return BUNDLE_NAME_PREFIX + toBase64Url(digest)
}

/** Whether `name` is a bundle's name (and not a built-in or registered kernel's). */
export function isBundleName(name: string): boolean {
  return typeof name === 'string' && BUNDLE_NAME.test(name)
}

/** The `caps.kernels` entry that says a node runs code signed by `publicKey`. */
export function signedCap(publicKey: string): string {
  return SIGNED_CAP_PREFIX + publicKey
}
