/**
 * The join proof `from` sends `to` in `room`: empty without a secret, else
 * HMAC-SHA256(secret, "peercompute-room|" + room + "|" + from + "|" + to) (WebCrypto).
 */
export async function joinProof(
  secret: string | undefined,
  room: string,
  from: string,
  to: string,
): Promise<Uint8Array> {
  if (!secret) return new Uint8Array(0)
  const te = new TextEncoder()
  const key = await crypto.subtle.importKey('raw', te.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
    'sign',
  ])
  return new Uint8Array(await crypto.subtle.sign('HMAC', key, te.encode(`peercompute-room|${room}|${from}|${to}`)))
}

/** Whether `a` and `b` hold the same bytes, in time that does not depend on where they differ. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  let d = 0
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i]
  return d === 0
}
