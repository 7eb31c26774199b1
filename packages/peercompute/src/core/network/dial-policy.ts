// Which addresses a node may dial. Peers announce addresses through the relay
// registry and through identify; either can be a lie aimed at the node's own
// network (a metadata service, a router's admin page, a port scan through our
// TCP connects). The rules are applied twice: by the NetworkManager when it
// chooses what to dial, and by libp2p's connection gater for every dial libp2p
// makes (including those from its peer store), so nothing reaches the socket
// layer that the policy forbids.
import type { ConnectionGater } from '@libp2p/interface'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { type IpKind, ipKind } from '../net-ranges.js'

/** A transport as the dial policy names it. */
export type DialTransport = 'tcp' | 'websocket' | 'webrtc' | 'relayed'

/** Every DialTransport. */
export const DIAL_TRANSPORTS: readonly DialTransport[] = ['tcp', 'websocket', 'webrtc', 'relayed']

/**
 * What a node may dial among the addresses it learns from peers. The relays
 * the owner configured (`relays`) are always allowed, whatever this says.
 */
export interface DialPolicy {
  /**
   * Transports to dial peers over (default: every one the platform has; in a
   * browser `webrtc` and `relayed`). `webrtc` is signalled over a relayed
   * connection, so it needs `relayed` too. `relayed` means circuit addresses,
   * and only through the configured relays, never a relay a peer names.
   */
  transports?: readonly DialTransport[]
  /**
   * Also dial loopback, private (RFC 1918), link-local, CGNAT and unique-local
   * IPv6 addresses (default false: public unicast only). For a mesh on one
   * machine or one LAN (tests, the demo: the CLI's `--loopback`). Multicast,
   * unspecified and reserved addresses are never dialled.
   */
  allowPrivate?: boolean
  /**
   * Dial DNS names (`/dns`, `/dns4`, `/dns6`, `/dnsaddr`) that peers announce
   * (default false). A node cannot know where a name resolves before libp2p
   * dials it, so a name could point anywhere, the node's own network included.
   */
  allowNames?: boolean
}

const PRIVATE_KINDS: ReadonlySet<IpKind> = new Set(['loopback', 'private', 'link-local', 'cgnat', 'unique-local'])
const NAMES = new Set(['dns', 'dns4', 'dns6', 'dnsaddr'])

type Part = ReturnType<Multiaddr['getComponents']>[number]

/**
 * A DialPolicy made ready for checks: validated, with the platform's default
 * transports and the configured relays. `check` says why an address is
 * refused, or undefined if it may be dialled.
 */
export class DialRules {
  readonly transports: ReadonlySet<DialTransport>
  readonly allowPrivate: boolean
  readonly allowNames: boolean
  /** Relay peer ids, and each configured relay address without its `/p2p/` id. */
  private readonly relayIds = new Set<string>()
  private readonly relayAddrs = new Map<string, string>()

  constructor(
    policy: DialPolicy | undefined,
    relays: readonly string[],
    platformTransports: readonly DialTransport[] = DIAL_TRANSPORTS,
  ) {
    const p = checkDialPolicy(policy)
    this.transports = new Set(p.transports ?? platformTransports)
    this.allowPrivate = p.allowPrivate === true
    this.allowNames = p.allowNames === true
    for (const r of relays) {
      let parts: Part[]
      try {
        parts = multiaddr(r).getComponents()
      } catch {
        continue // the NetworkManager refuses such a relay with a clear message
      }
      const id = parts.at(-1)?.name === 'p2p' ? parts.at(-1)?.value : undefined
      if (!id) continue // the NetworkManager refuses such a relay with a clear message
      this.relayIds.add(id)
      this.relayAddrs.set(text(parts.slice(0, -1)), id)
    }
  }

  /** True if `ma` may be dialled. */
  allows(ma: Multiaddr): boolean {
    return this.check(ma) === undefined
  }

  /** Why `ma` may not be dialled, or undefined if it may. */
  check(ma: Multiaddr): string | undefined {
    let parts: Part[]
    try {
      parts = ma.getComponents()
    } catch {
      return 'not a multiaddr'
    }
    const circuits = parts.flatMap((c, i) => (c.name === 'p2p-circuit' ? [i] : []))
    if (circuits.length > 1) return 'a circuit through more than one relay'
    if (circuits.length === 1) return this.checkCircuit(parts.slice(0, circuits[0]), parts.slice(circuits[0] + 1))
    if (this.isConfiguredRelay(parts)) return undefined
    const body = parts.at(-1)?.name === 'p2p' ? parts.slice(0, -1) : parts
    if (body.length === 0) return undefined // a bare /p2p/<id>: libp2p dials its known addresses, each checked here
    return this.checkDirect(body)
  }

  private checkCircuit(relay: Part[], dest: Part[]): string | undefined {
    const webrtc = dest[0]?.name === 'webrtc'
    const rest = webrtc ? dest.slice(1) : dest
    if (rest.length > 1 || (rest.length === 1 && rest[0].name !== 'p2p')) return 'an unsupported circuit address'
    if (!this.transports.has('relayed')) return 'transport relayed is not allowed'
    if (webrtc && !this.transports.has('webrtc')) return 'transport webrtc is not allowed'
    const relayId = relay.at(-1)?.name === 'p2p' ? relay.at(-1)?.value : undefined
    if (!relayId || !this.relayIds.has(relayId)) return 'a circuit through a relay this node did not configure'
    const body = relay.slice(0, -1)
    if (body.length === 0 || this.isConfiguredRelay(relay)) return undefined
    return this.checkDirect(body)
  }

  /** An address of a configured relay, with its id or with none. */
  private isConfiguredRelay(parts: Part[]): boolean {
    const last = parts.at(-1)
    if (last?.name === 'p2p') return this.relayAddrs.get(text(parts.slice(0, -1))) === last.value
    return parts.length > 0 && this.relayAddrs.has(text(parts))
  }

  /** A host (IP or name) and a transport over it: `/tcp/P`, or WebSockets over it. */
  private checkDirect(parts: Part[]): string | undefined {
    let i = 0
    if (parts[0]?.name === 'ip6zone') {
      if (!this.allowPrivate) return 'a zoned (link-local) address'
      i = 1
    }
    const host = parts[i]
    if (!host) return 'no host'
    if (host.name === 'ip4' || host.name === 'ip6') {
      const kind = ipKind(host.value ?? '')
      if (kind !== 'public' && !(this.allowPrivate && PRIVATE_KINDS.has(kind))) return `a ${kind} address`
    } else if (NAMES.has(host.name)) {
      if (!this.allowNames) return 'a DNS name'
      if (host.name === 'dnsaddr') return parts.length === i + 1 ? undefined : 'an unsupported dnsaddr address'
    } else return `an unsupported address (/${host.name})`
    const transport = transportOfParts(parts.slice(i + 1).map((c) => c.name))
    if (!transport) return 'an unsupported transport'
    return this.transports.has(transport) ? undefined : `transport ${transport} is not allowed`
  }
}

function text(parts: Part[]): string {
  return parts.map((c) => (c.value === undefined ? `/${c.name}` : `/${c.name}/${c.value}`)).join('')
}

/** `/tcp/P` is tcp; `/tcp/P/ws`, `/tcp/P/wss`, `/tcp/P/tls[/sni/H]/ws` are websocket; nothing else is dialled. */
function transportOfParts(names: string[]): DialTransport | undefined {
  if (names[0] !== 'tcp') return undefined
  const rest = names.slice(1).join('/')
  if (rest === '') return 'tcp'
  if (rest === 'ws' || rest === 'wss' || rest === 'tls/ws' || rest === 'tls/sni/ws') return 'websocket'
  return undefined
}

/** Checks a DialPolicy option; a bad one throws a TypeError naming the field. */
export function checkDialPolicy(p: DialPolicy | undefined): DialPolicy {
  if (p === undefined) return {}
  if (typeof p !== 'object' || p === null) throw new TypeError('dialPolicy must be an object')
  if (p.transports !== undefined) {
    if (!Array.isArray(p.transports) || p.transports.some((t) => !DIAL_TRANSPORTS.includes(t)))
      throw new TypeError(`dialPolicy.transports must be an array of ${DIAL_TRANSPORTS.join(', ')}`)
  }
  for (const k of ['allowPrivate', 'allowNames'] as const)
    if (p[k] !== undefined && typeof p[k] !== 'boolean') throw new TypeError(`dialPolicy.${k} must be a boolean`)
  return p
}

/**
 * The connection gater libp2p gets: the dial rules first, then the user's own
 * gater (both must allow a dial; every other hook of the user's gater is kept).
 * libp2p's own default gater allows every dial in Node; in browsers it refuses
 * every `ws://` and private address (the configured relays too) unless a
 * `denyDialMultiaddr` is given, which this always is: the rules replace it.
 */
export function dialPolicyGater(
  rules: DialRules,
  user?: ConnectionGater,
  log?: (line: string) => void,
): ConnectionGater {
  const userDeny = user?.denyDialMultiaddr?.bind(user)
  return {
    ...user,
    denyDialMultiaddr: async (ma) => {
      const why = rules.check(ma)
      if (why !== undefined) {
        log?.(`dial policy: not dialling ${ma.toString().slice(0, 200)}: ${why}`)
        return true
      }
      return userDeny ? (await userDeny(ma)) === true : false
    },
  }
}
