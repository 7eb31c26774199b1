import { UrlNotAllowedError } from '../errors.js'
import { type IpKind, ipKind, parseIp } from '../net-ranges.js'

// Which URLs this node fetches for a task's input. The policy is the node's
// own, whoever asked: a remote peer's task and the node's own local pieces
// obey the same one, enforced in the pool worker that fetches.

/** The `urlPolicy` option of `createNode` and of the worker pools. */
export interface UrlPolicy {
  /**
   * Origins (`https://data.example.com`, `http://127.0.0.1:8080`) this node
   * fetches from; when set, ONLY these. Their hosts must still be public
   * unless `allowPrivate` is set too.
   */
  allowOrigins?: string[]
  /**
   * Also fetch from loopback, private (RFC 1918), link-local, CGNAT and
   * unique-local IPv6 hosts, and `localhost`-style names: a mesh on one
   * machine or one LAN (the demo, tests). Cloud metadata addresses stay refused.
   */
  allowPrivate?: boolean
}

/** A policy checked and normalised once (origins as `URL.origin` strings). */
export interface ResolvedUrlPolicy {
  readonly allowOrigins?: ReadonlySet<string>
  readonly allowPrivate: boolean
}

/** The default policy: any public http(s) origin, public unicast addresses only. */
export const URL_POLICY_DEFAULTS: Readonly<Required<Pick<UrlPolicy, 'allowPrivate'>>> = Object.freeze({
  allowPrivate: false,
})

/** Address kinds `allowPrivate` opens; every other non-public kind is refused under any policy. */
const PRIVATE_KINDS: ReadonlySet<IpKind> = new Set<IpKind>([
  'loopback',
  'private',
  'link-local',
  'cgnat',
  'unique-local',
])

/** Instance metadata services (AWS, ECS, GCP, Azure, Alibaba, Oracle): never fetched, whatever the policy. */
const METADATA_IPS = [
  '169.254.169.254',
  '169.254.170.2',
  '169.254.169.123',
  '100.100.100.200',
  '192.0.0.192',
  'fd00:ec2::254',
]
const METADATA_NAMES: ReadonlySet<string> = new Set(['metadata.google.internal', 'metadata'])

/** An address as one comparable string: IPv4 also when embedded in IPv6 (mapped, NAT64, 6to4). */
function addressKey(ip: string): string | undefined {
  const b = parseIp(ip)
  if (!b) return undefined
  if (b.length === 16) {
    const zeros = (from: number, to: number) => b.subarray(from, to).every((x) => x === 0)
    if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) return b.subarray(12).join('.')
    if (b[0] === 0 && b[1] === 0x64 && b[2] === 0xff && b[3] === 0x9b && zeros(4, 12)) return b.subarray(12).join('.')
    if (b[0] === 0x20 && b[1] === 0x02) return b.subarray(2, 6).join('.')
  }
  return b.length === 4 ? b.join('.') : Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')
}

const METADATA_KEYS: ReadonlySet<string> = new Set(METADATA_IPS.map((ip) => addressKey(ip) as string))

/** True if `host` (a name or an IP in any form) is an instance metadata service. */
export function isMetadataHost(host: string): boolean {
  const key = addressKey(host)
  return key !== undefined ? METADATA_KEYS.has(key) : METADATA_NAMES.has(host.toLowerCase().replace(/\.$/, ''))
}

/** Names that mean this machine or the local network, whatever a resolver would say. */
const LOCAL_NAME = /(^|\.)(localhost|local|localdomain|internal|intranet|lan|home\.arpa)$/

const MAX_ORIGINS = 256

/**
 * Checks the `urlPolicy` option and normalises it; a bad one is a TypeError
 * that says what is wrong.
 */
export function resolveUrlPolicy(p: UrlPolicy | undefined): ResolvedUrlPolicy {
  if (p === undefined) return { allowPrivate: URL_POLICY_DEFAULTS.allowPrivate }
  if (typeof p !== 'object' || p === null) throw new TypeError('urlPolicy must be an object')
  if (p.allowPrivate !== undefined && typeof p.allowPrivate !== 'boolean')
    throw new TypeError('urlPolicy.allowPrivate must be a boolean')
  const allowPrivate = p.allowPrivate ?? URL_POLICY_DEFAULTS.allowPrivate
  if (p.allowOrigins === undefined) return { allowPrivate }
  if (!Array.isArray(p.allowOrigins) || p.allowOrigins.length > MAX_ORIGINS)
    throw new TypeError(`urlPolicy.allowOrigins must be an array of at most ${MAX_ORIGINS} origins`)
  const origins = new Set<string>()
  for (const o of p.allowOrigins) {
    let u: URL
    try {
      u = new URL(String(o))
    } catch {
      throw new TypeError(`urlPolicy.allowOrigins: ${JSON.stringify(o)} is not a URL`)
    }
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.username || u.password || u.pathname !== '/')
      throw new TypeError(
        `urlPolicy.allowOrigins: ${JSON.stringify(o)} must be an http(s) origin, like https://host:port`,
      )
    origins.add(u.origin)
  }
  return { allowOrigins: origins, allowPrivate }
}

/** The plain-data form of a resolved policy, to send to a worker (and back through `resolveUrlPolicy`). */
export function urlPolicyToInit(p: ResolvedUrlPolicy): UrlPolicy {
  return { allowPrivate: p.allowPrivate, ...(p.allowOrigins ? { allowOrigins: [...p.allowOrigins] } : {}) }
}

/**
 * Checks `url` against `policy` without any network access: scheme, userinfo,
 * the allow-list, and a host that is an IP literal or a local name. Returns
 * the parsed URL; a refusal is a `UrlNotAllowedError`. Hosts that are names
 * must still have every resolved address checked (`checkAddress`) where the
 * platform can resolve them (Node).
 */
export function checkUrl(url: string, policy: ResolvedUrlPolicy): URL {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    throw new UrlNotAllowedError('not an absolute URL')
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new UrlNotAllowedError(`scheme ${u.protocol} is not fetched (only http: and https:)`)
  if (u.username || u.password) throw new UrlNotAllowedError('URLs with a user name or password are not fetched')
  if (policy.allowOrigins && !policy.allowOrigins.has(u.origin))
    throw new UrlNotAllowedError(`origin ${u.origin} is not in this node's allowOrigins`)
  const host = bareHost(u)
  if (isMetadataHost(host)) throw new UrlNotAllowedError('cloud metadata addresses are never fetched')
  const kind = ipKind(host)
  if (kind !== 'invalid') {
    checkKind(kind, policy)
    return u
  }
  // a name: in Node its addresses are checked when it resolves; here, what the name alone gives away
  if (!policy.allowPrivate && (LOCAL_NAME.test(host) || !host.includes('.')))
    throw new UrlNotAllowedError(`host ${host} is a local name; this node fetches only public hosts`)
  return u
}

/** Checks one address a host resolved to; a refusal is a `UrlNotAllowedError`. */
export function checkAddress(ip: string, policy: ResolvedUrlPolicy): void {
  if (isMetadataHost(ip)) throw new UrlNotAllowedError('cloud metadata addresses are never fetched')
  checkKind(ipKind(ip), policy, true)
}

function checkKind(kind: IpKind, policy: ResolvedUrlPolicy, resolved = false): void {
  if (kind === 'public' || (policy.allowPrivate && PRIVATE_KINDS.has(kind))) return
  const what = resolved ? 'resolves to' : 'is'
  const hint = PRIVATE_KINDS.has(kind) ? ' (urlPolicy.allowPrivate allows it)' : ''
  throw new UrlNotAllowedError(`the host ${what} a ${kind} address, which this node does not fetch from${hint}`)
}

/** The host without IPv6 brackets or a trailing dot, lower case. */
function bareHost(u: URL): string {
  const h = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname
  return h.replace(/\.$/, '').toLowerCase()
}
