// Token buckets keyed by peer id and by IP address. The state lives outside any
// stream, so reopening a stream buys nothing; a full bucket carries no
// information, so idle keys are forgotten and the table stays bounded.

/** A sustained rate and the burst allowed above it. */
export interface Rate {
  perSecond: number
  burst: number
}

/** The registry messages a peer may send, each with its own budget. */
export const LIMITED_KINDS = ['announce', 'heartbeat', 'subscribe', 'mesh'] as const
export type LimitedKind = (typeof LIMITED_KINDS)[number]

/** Per-peer budgets: an honest peer announces on start and on address changes, heartbeats every 1-5 s, subscribes once per stream. */
export const DEFAULT_PEER_RATES: Record<LimitedKind, Rate> = {
  announce: { perSecond: 2, burst: 20 },
  heartbeat: { perSecond: 5, burst: 10 },
  mesh: { perSecond: 5, burst: 10 },
  subscribe: { perSecond: 0.2, burst: 3 },
}

/** Refused messages a peer may send (rate, burst) before it is cut off. */
export const DEFAULT_STRIKES: Rate = { perSecond: 1, burst: 20 }

/** Roughly what one key of a KeyedBuckets costs in memory (the key, the map slot, the numbers). */
export const BUCKET_ENTRY_BYTES = 320

interface Entry {
  /** Last refill, ms. */
  t: number
  tokens: Float64Array
  bannedUntil: number
}

/**
 * Token buckets for a fixed set of kinds, one set per key, at most `maxKeys`
 * keys (least recently used goes first; a key whose buckets are full and that
 * is not banned is dropped by `sweep()`, as it would start full anyway).
 */
export class KeyedBuckets<K extends string> {
  private readonly kinds: readonly K[]
  private readonly rates: Rate[]
  private readonly maxKeys: number
  private readonly entries = new Map<string, Entry>()

  constructor(rates: Record<K, Rate>, maxKeys: number) {
    this.kinds = Object.keys(rates) as K[]
    this.rates = this.kinds.map((k) => rates[k])
    for (const r of this.rates)
      if (!(r.perSecond > 0 && r.burst >= 1)) throw new RangeError(`bad rate ${JSON.stringify(r)}`)
    if (!(maxKeys >= 1)) throw new RangeError(`maxKeys must be ≥ 1, got ${maxKeys}`)
    this.maxKeys = maxKeys
  }

  /** Keys held now (≤ maxKeys). */
  get size(): number {
    return this.entries.size
  }

  /** True if `key` has a token of `kind` now (takes nothing). */
  has(key: string, kind: K, now = Date.now()): boolean {
    const e = this.entries.get(key)
    if (!e) return true
    this.refill(e, now)
    return e.tokens[this.kinds.indexOf(kind)] >= 1
  }

  /** Takes a token of `kind` from `key`; false (and nothing taken) if there is none. */
  take(key: string, kind: K, now = Date.now()): boolean {
    const e = this.touch(key, now)
    const i = this.kinds.indexOf(kind)
    if (e.tokens[i] < 1) return false
    e.tokens[i] -= 1
    return true
  }

  /** Bans `key` until `until` (ms). */
  ban(key: string, until: number, now = Date.now()): void {
    this.touch(key, now).bannedUntil = until
  }

  /** True while `key` is banned. */
  isBanned(key: string, now = Date.now()): boolean {
    return (this.entries.get(key)?.bannedUntil ?? 0) > now
  }

  /** Forgets keys with full buckets and no ban. */
  sweep(now = Date.now()): void {
    for (const [key, e] of this.entries) {
      this.refill(e, now)
      if (e.bannedUntil <= now && this.rates.every((r, i) => e.tokens[i] >= r.burst)) this.entries.delete(key)
    }
  }

  private touch(key: string, now: number): Entry {
    let e = this.entries.get(key)
    if (e) {
      this.entries.delete(key) // re-inserted below: Map order is recency
      this.refill(e, now)
    } else {
      e = { t: now, tokens: Float64Array.from(this.rates, (r) => r.burst), bannedUntil: 0 }
      while (this.entries.size >= this.maxKeys) {
        const oldest = this.entries.keys().next().value as string
        this.entries.delete(oldest)
      }
    }
    this.entries.set(key, e)
    return e
  }

  private refill(e: Entry, now: number): void {
    const dt = Math.max(0, now - e.t) / 1000
    e.t = Math.max(e.t, now)
    for (let i = 0; i < this.rates.length; i++)
      e.tokens[i] = Math.min(this.rates[i].burst, e.tokens[i] + dt * this.rates[i].perSecond)
  }
}

/** Options of a RegistryLimiter. */
export interface RegistryLimiterInit {
  /** Per-peer budgets (default DEFAULT_PEER_RATES). */
  peerRates?: Record<LimitedKind, Rate>
  /** An IP's budget is this many peers' (default 64: a NAT of 64 peers at full rate). */
  peersPerIp?: number
  /** Refused messages allowed before a peer is cut off (default DEFAULT_STRIKES). */
  strikes?: Rate
  /** How long a cut-off peer id stays refused, ms (default 60 s). */
  banMs?: number
  /** Most peer ids and most IPs remembered (each; default 8192). */
  maxKeys?: number
}

/** What the limiter says of one message. */
export type Verdict = 'ok' | 'limited' | 'cut-off'

/**
 * The registry's rate limits: every message kind has a budget per peer id and a
 * larger one per IP (peer ids are free, IPs less so). A message over either
 * budget is refused and costs the peer a strike; a peer out of strikes is cut
 * off and its id refused for `banMs`.
 */
export class RegistryLimiter {
  private readonly peers: KeyedBuckets<LimitedKind | 'strike'>
  private readonly ips: KeyedBuckets<LimitedKind>
  private readonly banMs: number
  readonly maxKeys: number

  constructor(init: RegistryLimiterInit = {}) {
    const rates = init.peerRates ?? DEFAULT_PEER_RATES
    const perIp = init.peersPerIp ?? 64
    if (!(perIp >= 1)) throw new RangeError(`peersPerIp must be ≥ 1, got ${perIp}`)
    this.maxKeys = init.maxKeys ?? 8192
    this.banMs = init.banMs ?? 60_000
    this.peers = new KeyedBuckets({ ...rates, strike: init.strikes ?? DEFAULT_STRIKES }, this.maxKeys)
    const ipRates = Object.fromEntries(
      LIMITED_KINDS.map((k) => [k, { perSecond: rates[k].perSecond * perIp, burst: rates[k].burst * perIp }]),
    ) as Record<LimitedKind, Rate>
    this.ips = new KeyedBuckets(ipRates, this.maxKeys)
  }

  /** Judges one message of `kind` from `peer` at `ip`, spending its budget if it passes. */
  admit(peer: string, ip: string, kind: LimitedKind, now = Date.now()): Verdict {
    if (this.peers.isBanned(peer, now)) return 'cut-off'
    if (this.peers.has(peer, kind, now) && this.ips.has(ip, kind, now)) {
      this.peers.take(peer, kind, now)
      this.ips.take(ip, kind, now)
      return 'ok'
    }
    if (this.peers.take(peer, 'strike', now)) return 'limited'
    this.peers.ban(peer, now + this.banMs, now)
    return 'cut-off'
  }

  /** True while `peer` is cut off. */
  isBanned(peer: string, now = Date.now()): boolean {
    return this.peers.isBanned(peer, now)
  }

  /** Keys held (peer ids + IPs), for the memory account. */
  get keys(): number {
    return this.peers.size + this.ips.size
  }

  /** Forgets idle keys. */
  sweep(now = Date.now()): void {
    this.peers.sweep(now)
    this.ips.sweep(now)
  }
}
