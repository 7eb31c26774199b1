// IP address classification, shared by the dial policy (addresses learned from
// peers) and the URL policy (hosts a task asks us to fetch). It parses the text
// itself so it runs the same in Node and in browsers, and it is strict: only
// dotted-decimal IPv4 and RFC 4291 IPv6 text are addresses, everything else is
// 'invalid' (no octal or hex IPv4 forms, which resolvers read differently).

/** What kind of address an IP is. Only 'public' is a global unicast address. */
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

/** Every IpKind, for option validation. */
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

type Range = readonly [prefix: number[], bits: number, kind: IpKind]

// IPv4 special-purpose ranges (RFC 6890 and its updates). The cloud metadata
// addresses fall in these: 169.254.169.254 (link-local), 100.100.100.200 (cgnat).
const V4: Range[] = [
  [[0], 8, 'unspecified'],
  [[10], 8, 'private'],
  [[100, 64], 10, 'cgnat'],
  [[127], 8, 'loopback'],
  [[169, 254], 16, 'link-local'],
  [[172, 16], 12, 'private'],
  [[192, 0, 0], 24, 'reserved'],
  [[192, 0, 2], 24, 'reserved'],
  [[192, 88, 99], 24, 'reserved'],
  [[192, 168], 16, 'private'],
  [[198, 18], 15, 'reserved'],
  [[198, 51, 100], 24, 'reserved'],
  [[203, 0, 113], 24, 'reserved'],
  [[224], 4, 'multicast'],
  [[240], 4, 'reserved'],
]

// IPv6: only 2000::/3 is global unicast; inside it these are not public.
// (::/128, ::1, IPv4-mapped/compatible, NAT64 and 6to4 are handled in code.)
const V6: Range[] = [
  [[0x01, 0x00, 0, 0, 0, 0, 0, 0], 64, 'reserved'], // discard-only
  [[0x20, 0x01, 0x00, 0x00], 32, 'reserved'], // Teredo (embeds an obfuscated IPv4)
  [[0x20, 0x01, 0x00, 0x10], 28, 'reserved'], // ORCHID
  [[0x20, 0x01, 0x00, 0x20], 28, 'reserved'], // ORCHIDv2
  [[0x20, 0x01, 0x0d, 0xb8], 32, 'reserved'], // documentation
  [[0x3f, 0xff], 20, 'reserved'], // documentation (RFC 9637)
  [[0x00, 0x64, 0xff, 0x9b, 0x00, 0x01], 48, 'reserved'], // local-use NAT64
  [[0xfc], 7, 'unique-local'], // includes AWS's fd00:ec2::254 metadata address
  [[0xfe, 0x80], 10, 'link-local'],
  [[0xfe, 0xc0], 10, 'reserved'], // deprecated site-local
  [[0xff], 8, 'multicast'],
]

function matches(bytes: Uint8Array, prefix: number[], bits: number): boolean {
  for (let i = 0; i * 8 < bits; i++) {
    const take = Math.min(8, bits - i * 8)
    const mask = (0xff << (8 - take)) & 0xff
    if ((bytes[i] & mask) !== ((prefix[i] ?? 0) & mask)) return false
  }
  return true
}

/** Parses strict dotted-decimal IPv4 ("1.2.3.4"; no leading zeros); undefined if it is not one. */
export function parseIpv4(text: string): Uint8Array | undefined {
  const parts = text.split('.')
  if (parts.length !== 4) return undefined
  const out = new Uint8Array(4)
  for (let i = 0; i < 4; i++) {
    const p = parts[i]
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return undefined
    const n = Number(p)
    if (n > 255) return undefined
    out[i] = n
  }
  return out
}

/** Parses IPv6 text (with `::`, a trailing dotted IPv4, optional brackets and zone); undefined if it is not one. */
export function parseIpv6(text: string): Uint8Array | undefined {
  let t = text
  if (t.startsWith('[') && t.endsWith(']')) t = t.slice(1, -1)
  const zone = t.indexOf('%')
  if (zone >= 0) {
    if (zone === t.length - 1) return undefined
    t = t.slice(0, zone)
  }
  if (t.length === 0 || t.length > 45) return undefined
  const words: number[] = []
  const halves = t.split('::')
  if (halves.length > 2) return undefined
  const parseHalf = (h: string, last: boolean): number[] | undefined => {
    if (h === '') return []
    const groups = h.split(':')
    const out: number[] = []
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]
      if (last && i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIpv4(g)
        if (!v4) return undefined
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3])
      } else if (/^[0-9a-fA-F]{1,4}$/.test(g)) out.push(Number.parseInt(g, 16))
      else return undefined
    }
    return out
  }
  const head = parseHalf(halves[0], halves.length === 1)
  const tail = halves.length === 2 ? parseHalf(halves[1], true) : []
  if (!head || !tail) return undefined
  if (halves.length === 1) {
    if (head.length !== 8) return undefined
    words.push(...head)
  } else {
    if (head.length + tail.length > 7) return undefined
    words.push(...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail)
  }
  const out = new Uint8Array(16)
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i] >> 8
    out[2 * i + 1] = words[i] & 0xff
  }
  return out
}

function v4Kind(b: Uint8Array): IpKind {
  if (b[0] === 255 && b[1] === 255 && b[2] === 255 && b[3] === 255) return 'reserved' // broadcast, in 240/4 anyway
  for (const [prefix, bits, kind] of V4) if (matches(b, prefix, bits)) return kind
  return 'public'
}

function v6Kind(b: Uint8Array): IpKind {
  const zeroUpTo = (n: number) => b.subarray(0, n).every((x) => x === 0)
  if (zeroUpTo(16)) return 'unspecified'
  if (zeroUpTo(15) && b[15] === 1) return 'loopback'
  // an IPv4 address in IPv6 clothing is what it embeds: ::ffff:127.0.0.1 is loopback
  if (zeroUpTo(10) && b[10] === 0xff && b[11] === 0xff) return v4Kind(b.subarray(12))
  if (matches(b, [0x00, 0x64, 0xff, 0x9b], 96)) return v4Kind(b.subarray(12)) // NAT64 well-known prefix
  if (matches(b, [0x20, 0x02], 16)) return v4Kind(b.subarray(2, 6)) // 6to4
  if (zeroUpTo(12)) return 'reserved' // deprecated IPv4-compatible
  for (const [prefix, bits, kind] of V6) if (matches(b, prefix, bits)) return kind
  return (b[0] & 0xe0) === 0x20 ? 'public' : 'reserved'
}

/**
 * The kind of the IP address `ip` (IPv4 dotted decimal, or IPv6 text, with or
 * without brackets or a `%zone`). IPv4-mapped, NAT64 and 6to4 IPv6 addresses
 * are classified by the IPv4 address they embed. Anything that is not an IP
 * address (a DNS name, `010.0.0.1`, an empty string) is 'invalid'.
 */
export function ipKind(ip: string): IpKind {
  if (typeof ip !== 'string') return 'invalid'
  const v4 = parseIpv4(ip)
  if (v4) return v4Kind(v4)
  const v6 = ip.includes(':') ? parseIpv6(ip) : undefined
  return v6 ? v6Kind(v6) : 'invalid'
}

/** True only for a global unicast address (not loopback, private, link-local, CGNAT, multicast, ULA, reserved). */
export function isPublicIp(ip: string): boolean {
  return ipKind(ip) === 'public'
}
