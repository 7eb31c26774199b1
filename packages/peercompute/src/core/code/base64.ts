// Base64 and base64url text of bytes (RFC 4648), for keys and PEM files. Plain
// text encodings over btoa/atob, which browsers, workers and Node all have.

/** `bytes` as base64 (with padding). */
export function toBase64(bytes: Uint8Array): string {
  let s = ''
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000))
  return btoa(s)
}

/** `bytes` as base64url without padding (RFC 4648 §5). */
export function toBase64Url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

/**
 * The bytes of base64 text (`url`: the base64url alphabet, no padding), or
 * `undefined` when the text is not exactly that encoding (stray characters,
 * wrong padding, non-zero spare bits): every accepted text has one meaning.
 */
export function fromBase64(text: string, url = false): Uint8Array<ArrayBuffer> | undefined {
  const ok = url ? /^[A-Za-z0-9_-]*$/ : /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
  if (!ok.test(text) || (url && text.length % 4 === 1)) return undefined
  const std = url ? text.replace(/-/g, '+').replace(/_/g, '/') : text
  let bin: string
  try {
    bin = atob(std)
  } catch {
    return undefined
  }
  const out = Uint8Array.from(bin, (c) => c.charCodeAt(0))
  // a canonical text only: re-encoding gives the same characters
  return (url ? toBase64Url(out) : toBase64(out)) === text ? out : undefined
}
