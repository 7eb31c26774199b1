// What kind of address an IP is: the one classifier behind the dial policy and
// the URL policy. Platform-neutral (no node:net): IPv4 in any form the WHATWG
// URL parser accepts (0x7f.1, 2130706433, 0177.0.0.1) and IPv6 with embedded
// IPv4 (::ffff:127.0.0.1, 64:ff9b::a00:1, 2002:a00:1::) are classified by the
// address they reach.

/** The kinds of IP address, by the ranges IANA's special-purpose registries assign. */
export type IpKind =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'cgnat'
  | 'multicast'
  | 'unique-local'
  | 'unspecified'
  | 'reserved'
  | 'invalid'

/** An IPv4 range: prefix bytes and prefix length in bits. */
type V4Range = readonly [a: number, b: number, c: number, d: number, bits: number, kind: IpKind]

const V4_RANGES: readonly V4Range[] = [
  [0, 0, 0, 0, 32, 'unspecified'],
  [0, 0, 0, 0, 8, 'reserved'], // "this network"
  [10, 0, 0, 0, 8, 'private'],
  [100, 64, 0, 0, 10, 'cgnat'],
  [127, 0, 0, 0, 8, 'loopback'],
  [169, 254, 0, 0, 16, 'link-local'],
  [172, 16, 0, 0, 12, 'private'],
  [192, 0, 0, 0, 24, 'reserved'], // IETF protocol assignments
  [192, 0, 2, 0, 24, 'reserved'], // TEST-NET-1
  [192, 88, 99, 0, 24, 'reserved'], // 6to4 relay anycast (deprecated)
  [192, 168, 0, 0, 16, 'private'],
  [198, 18, 0, 0, 15, 'reserved'], // benchmarking
  [198, 51, 100, 0, 24, 'reserved'], // TEST-NET-2
  [203, 0, 113, 0, 24, 'reserved'], // TEST-NET-3
  [224, 0, 0, 0, 4, 'multicast'],
  [240, 0, 0, 0, 4, 'reserved'], // future use, and 255.255.255.255
]

/**
 * The kind of address `ip` is: an IPv4 or IPv6 literal, with or without
 * brackets or an IPv6 zone (`fe80::1%eth0`). Anything that is not an IP
 * literal (a host name, a port, a path) is `'invalid'`.
 */
export function ipKind(ip: string): IpKind {
  const bytes = parseIp(ip)
  if (!bytes) return 'invalid'
  return bytes.length === 4 ? v4Kind(bytes) : v6Kind(bytes)
}

/** True if `ip` is a public unicast address: reachable across the internet, and nothing else. */
export function isPublicIp(ip: string): boolean {
  return ipKind(ip) === 'public'
}

/**
 * The bytes of an IP literal (4 or 16), or undefined if `ip` is not one. IPv4
 * is read as the WHATWG URL parser reads a host (so `127.1` is 127.0.0.1).
 */
export function parseIp(ip: string): Uint8Array | undefined {
  if (typeof ip !== 'string' || ip.length === 0 || ip.length > 64) return undefined
  let s = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip
  const v6 = s.includes(':')
  if (v6) s = s.replace(/%[\w.-]+$/, '') // a zone names an interface, not an address
  // only characters an address can have: no '@', '/', '?' or '#' that would make the URL parser read a different host
  if (!/^[0-9a-fA-FxX.:]+$/.test(s)) return undefined
  let host: string
  try {
    host = new URL(v6 ? `http://[${s}]/` : `http://${s}/`).hostname
  } catch {
    return undefined
  }
  if (v6) return parseV6(host.slice(1, -1))
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host)
  return m ? Uint8Array.from(m.slice(1), Number) : undefined // else a domain name (e.g. "abc")
}

/** Bytes of IPv6 as the URL parser serialises it: lower-case hex groups, at most one `::`, no dotted part. */
function parseV6(s: string): Uint8Array | undefined {
  const [head, tail, extra] = s.split('::')
  if (extra !== undefined) return undefined
  const groups = (part: string | undefined) => (part ? part.split(':') : [])
  const h = groups(head)
  const t = groups(tail)
  const zeros = tail === undefined ? 0 : 8 - h.length - t.length
  const all = [...h, ...Array<string>(Math.max(0, zeros)).fill('0'), ...t]
  if (all.length !== 8 || all.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return undefined
  const out = new Uint8Array(16)
  all.forEach((g, i) => {
    const n = Number.parseInt(g, 16)
    out[2 * i] = n >> 8
    out[2 * i + 1] = n & 0xff
  })
  return out
}

function inV4(b: Uint8Array, r: V4Range): boolean {
  const bits = r[4]
  for (let i = 0; i < 4; i++) {
    const take = Math.min(8, Math.max(0, bits - 8 * i))
    if (take === 0) return true
    const mask = (0xff << (8 - take)) & 0xff
    if ((b[i] & mask) !== (r[i] as number)) return false
  }
  return true
}

function v4Kind(b: Uint8Array): IpKind {
  // the most specific range wins: 0.0.0.0/32 before 0.0.0.0/8
  let best: V4Range | undefined
  for (const r of V4_RANGES) if (inV4(b, r) && (!best || r[4] > best[4])) best = r
  return best ? best[5] : 'public'
}

function v6Kind(b: Uint8Array): IpKind {
  const word = (i: number) => (b[2 * i] << 8) | b[2 * i + 1]
  const zeroUpTo = (n: number) => b.subarray(0, n).every((x) => x === 0)
  const v4At = (i: number) => b.subarray(i, i + 4)
  if (zeroUpTo(16)) return 'unspecified'
  if (zeroUpTo(15) && b[15] === 1) return 'loopback'
  if (zeroUpTo(10) && word(5) === 0xffff) return v4Kind(v4At(12)) // IPv4-mapped ::ffff:a.b.c.d
  if (zeroUpTo(12)) return 'reserved' // IPv4-compatible (deprecated)
  const w0 = word(0)
  // NAT64 well-known prefix 64:ff9b::/96 reaches the embedded IPv4 address
  if (w0 === 0x64 && word(1) === 0xff9b && b.subarray(4, 12).every((x) => x === 0)) return v4Kind(v4At(12))
  if (w0 === 0x64 && word(1) === 0xff9b && word(2) === 1) return 'reserved' // local-use NAT64
  if (w0 === 0x2002) return v4Kind(v4At(2)) // 6to4 embeds the IPv4 address it reaches
  if (w0 === 0x2001 && word(1) === 0x0db8) return 'reserved' // documentation
  if (w0 === 0x2001 && word(1) < 0x0200) return 'reserved' // IETF protocol assignments (Teredo, ORCHID, ...)
  if (w0 === 0x3fff && word(1) < 0x1000) return 'reserved' // documentation 3fff::/20
  if (w0 === 0x5f00) return 'reserved' // SRv6 SIDs
  if ((w0 & 0xfe00) === 0xfc00) return 'unique-local'
  if ((w0 & 0xffc0) === 0xfe80) return 'link-local'
  if ((w0 & 0xffc0) === 0xfec0) return 'private' // site-local (deprecated)
  if ((w0 & 0xff00) === 0xff00) return 'multicast'
  if ((w0 & 0xe000) === 0x2000) return 'public' // global unicast 2000::/3
  return 'reserved'
}

/** Every kind `ipKind` returns. */
export const IP_KINDS: readonly IpKind[] = [
  'public',
  'loopback',
  'private',
  'link-local',
  'cgnat',
  'multicast',
  'unique-local',
  'unspecified',
  'reserved',
  'invalid',
]
