// Base64 without Buffer or atob: the handlers run in Node, Lambda and workerd alike.

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
const DECODE = new Int16Array(128).fill(-1)
for (let i = 0; i < ALPHABET.length; i++) DECODE[ALPHABET.charCodeAt(i)] = i

/** `bytes` as standard base64 with padding. */
export function toBase64(bytes: Uint8Array): string {
  const parts: string[] = []
  const CHUNK = 3 * 8192
  for (let start = 0; start < bytes.length; start += CHUNK) {
    const end = Math.min(bytes.length, start + CHUNK)
    let s = ''
    let i = start
    for (; i + 2 < end; i += 3) {
      const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2]
      s += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63] + ALPHABET[(n >> 6) & 63] + ALPHABET[n & 63]
    }
    if (i < end) {
      const n = (bytes[i] << 16) | ((i + 1 < end ? bytes[i + 1] : 0) << 8)
      s += ALPHABET[n >> 18] + ALPHABET[(n >> 12) & 63]
      s += i + 1 < end ? `${ALPHABET[(n >> 6) & 63]}=` : '=='
    }
    parts.push(s)
  }
  return parts.join('')
}

/** Decodes standard base64 (padding optional); undefined for anything that is not base64. */
export function fromBase64(text: string): Uint8Array | undefined {
  let len = text.length
  while (len > 0 && text.charCodeAt(len - 1) === 61 /* = */) len--
  if (text.length - len > 2 || len % 4 === 1) return undefined
  const out = new Uint8Array(Math.floor((len * 3) / 4))
  let o = 0
  let acc = 0
  let bits = 0
  for (let i = 0; i < len; i++) {
    const c = text.charCodeAt(i)
    const v = c < 128 ? DECODE[c] : -1
    if (v < 0) return undefined
    acc = ((acc << 6) | v) & 0xffffff
    bits += 6
    if (bits >= 8) {
      bits -= 8
      out[o++] = (acc >> bits) & 0xff
    }
  }
  return out
}

/** Bytes that `n` bytes take as base64. */
export function base64Length(n: number): number {
  return Math.ceil(n / 3) * 4
}
