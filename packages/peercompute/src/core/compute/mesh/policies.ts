import type { Capabilities, Load } from '../../wire/registry.js'

/** A place a piece can run: the local node or a peer, with what is known of it. */
export interface Candidate {
  /** Peer id; the local node's own id for `local`. */
  id: string
  local: boolean
  caps: Capabilities
  /** Load as last advertised. */
  load: Load
  rttMs?: number
  /** Pieces this job has in flight there. */
  inflight: number
  /** Pieces it can take at once. */
  slots: number
  /** Measured throughput, bytes per ms (submit to result); undefined until measured. */
  throughput?: number
  /** Failures seen from it (this node's history). */
  failures: number
  /** Unreachable lately: not to be used before this time (`performance.now()` ms). */
  downUntil?: number
}

/**
 * Pieces a peer advertising `cores` is given at once (`Candidate.slots`): its
 * cores (1..16) and one more, so the next piece's bytes travel while the last runs.
 */
export function peerSlots(cores: number): number {
  return Math.min(Math.max(1, cores), 16) + 1
}

/** What a policy weighs for one piece. */
export interface PieceContext {
  bytes: number
  /** `sticky`: the affinity key. */
  affinityKey: string
}

/** Ranks candidates for a piece: lower scores first. */
export interface SchedulerPolicy {
  readonly name: string
  score(c: Candidate, piece: PieceContext): number
}

/** Throughput assumed before a peer has been measured, bytes per ms (local: 1 GB/s; remote: 100 MB/s). */
const PRIOR = { local: 1e6, remote: 1e5 }

/** Expected time until the piece is done there, ms: the round trip, the queue ahead and the work. */
export function expectedMs(c: Candidate, p: PieceContext): number {
  const tput = c.throughput ?? (c.local ? PRIOR.local : PRIOR.remote)
  const work = p.bytes / tput
  const queued = c.inflight + c.load.queued / Math.max(1, c.caps.cores)
  // a gateway adds its function's round trip to the one to the gateway itself
  const rtt = c.local ? 0 : (c.rttMs ?? 5) + (c.caps.gateway?.latencyMs ?? 0)
  return rtt + work * (1 + queued / Math.max(1, c.slots))
}

/** Where a piece run on `c` is said to have run: `local`, the peer's substrate, or a gateway's function host. */
export function substrateOf(c: { local: boolean; caps: Capabilities }): string {
  return c.local ? 'local' : (c.caps.gateway?.kind ?? c.caps.substrate)
}

/** What the piece costs there, USD, from the peer's price model (browsers and the local node are free). */
export function pieceCostUsd(caps: Capabilities, local: boolean, bytes: number, execMs: number): number {
  if (local || caps.substrate === 'browser') return 0
  const { model, usd } = caps.price
  switch (model) {
    case 'free':
      return 0
    case 'per-invocation':
      return usd
    case 'per-hour':
      return (usd * execMs) / 3.6e6
    case 'per-gb':
      return (usd * bytes) / 1e9
  }
}

const reliability = (c: Candidate) => 1 + 0.5 * c.failures

/** `costPerHour*100 + latencyMs`, the original PeerCompute formula. */
export const packetfsClassic: SchedulerPolicy = {
  name: 'packetfs-classic',
  score(c, p) {
    const ms = expectedMs(c, p)
    const perHour = (pieceCostUsd(c.caps, c.local, p.bytes, ms) / Math.max(ms, 1e-3)) * 3.6e6
    return (perHour * 100 + (c.local ? 0 : (c.rttMs ?? 5))) * reliability(c)
  },
}

/** Milliseconds one USD is worth to `balanced` (a cent weighs as much as a second). */
export const BALANCED_MS_PER_USD = 100_000

/** The default: expected completion time, plus cost weighed at BALANCED_MS_PER_USD. */
export const balanced: SchedulerPolicy = {
  name: 'balanced',
  score(c, p) {
    const ms = expectedMs(c, p)
    return (ms + pieceCostUsd(c.caps, c.local, p.bytes, ms) * BALANCED_MS_PER_USD) * reliability(c)
  },
}

/** Lowest cost; expected time breaks ties. */
export const cheapest: SchedulerPolicy = {
  name: 'cheapest',
  score(c, p) {
    const ms = expectedMs(c, p)
    return pieceCostUsd(c.caps, c.local, p.bytes, ms) * 1e9 + ms * reliability(c)
  },
}

/** Shortest expected completion time. */
export const fastest: SchedulerPolicy = {
  name: 'fastest',
  score: (c, p) => expectedMs(c, p) * reliability(c),
}

/** Fewest tasks per slot (what this job has there plus what the peer advertises). */
export const leastLoaded: SchedulerPolicy = {
  name: 'least-loaded',
  score: (c) => ((c.inflight + c.load.running + c.load.queued) / Math.max(1, c.slots)) * reliability(c) + c.failures,
}

/** Rendezvous hashing on the affinity key: the same key goes to the same peer while it is there. */
export const sticky: SchedulerPolicy = {
  name: 'sticky',
  score: (c, p) => -rendezvous(p.affinityKey, c.id) + c.failures * 2 ** 32,
}

/** FNV-1a 32 of key + peer: the rendezvous weight. */
function rendezvous(key: string, peer: string): number {
  let h = 0x811c9dc5
  const s = `${key}\u0000${peer}`
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}

/** Every built-in policy, by name. */
export const POLICIES = {
  'packetfs-classic': packetfsClassic,
  balanced,
  cheapest,
  fastest,
  'least-loaded': leastLoaded,
  sticky,
} as const satisfies Record<string, SchedulerPolicy>

/** A built-in policy's name. */
export type PolicyName = keyof typeof POLICIES
