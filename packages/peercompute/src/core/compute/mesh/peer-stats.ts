// What this node remembers of each peer across jobs: measured throughput,
// failures (lies and errors score a peer down), pieces in flight, and whether
// it sits out after going unreachable. Peer ids are free, so the table is
// bounded: past its size the least recently used idle peer is forgotten.

/** One peer's record. */
export interface PeerStats {
  /** Measured throughput, bytes per ms. */
  throughput?: number
  /** Failures and lies seen (a lie weighs LIE_WEIGHT). */
  failures: number
  inflight: number
  /** Unreachable (its stream closed or could not open): not a candidate before this time. */
  downUntil?: number
  /** Unreachable spells in a row: the next cool-down doubles. */
  downs: number
  /** Refusals in a row for being busy (rate or queue limits): the next short rest doubles. */
  busy?: number
}

/** How long a peer that says it is busy rests (ms), doubling per refusal in a row. */
const BUSY_REST = { initialMs: 100, maxMs: 2000 }

/** Peers remembered at most (default of PeerStatsTable). */
export const MAX_PEER_STATS = 4096

/** What a lie (outvoted or malformed) adds to a peer's failures. */
export const LIE_WEIGHT = 10

/** How long an unreachable peer sits out, doubling per spell in a row (ms). */
const COOL_DOWN = { initialMs: 2000, maxMs: 60_000 }

/** A bounded table of PeerStats, least recently used first. */
export class PeerStatsTable {
  private readonly max: number
  private readonly map = new Map<string, PeerStats>()

  constructor(max = MAX_PEER_STATS) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError('the peer stats bound must be an integer ≥ 1')
    this.max = max
  }

  /** Peers remembered now. */
  get size(): number {
    return this.map.size
  }

  /** The record of `id` (made fresh if unknown), now the most recently used. */
  get(id: string): PeerStats {
    let s = this.map.get(id)
    if (s) this.map.delete(id)
    else s = { failures: 0, inflight: 0, downs: 0 }
    this.map.set(id, s)
    if (this.map.size > this.max) this.evict()
    return s
  }

  /** The record of `id` if remembered, without touching its place. */
  peek(id: string): PeerStats | undefined {
    return this.map.get(id)
  }

  /** Notes that `id` was unreachable: it sits out for a cool-down that doubles per spell in a row. */
  markDown(s: PeerStats, now = performance.now()): void {
    s.downUntil = now + Math.min(COOL_DOWN.maxMs, COOL_DOWN.initialMs * 2 ** s.downs)
    s.downs++
  }

  /**
   * Notes that `id` refused work for being busy (its rate or in-flight limit):
   * it rests 100 ms, doubling per refusal in a row up to 2 s, instead of being
   * taken for broken.
   */
  markBusy(s: PeerStats, now = performance.now()): void {
    const n = s.busy ?? 0
    s.downUntil = Math.max(s.downUntil ?? 0, now + Math.min(BUSY_REST.maxMs, BUSY_REST.initialMs * 2 ** n))
    s.busy = n + 1
  }

  /** Folds one measured throughput (bytes per ms) into the peer's average. */
  measured(s: PeerStats, bytesPerMs: number): void {
    s.throughput = s.throughput === undefined ? bytesPerMs : 0.7 * s.throughput + 0.3 * bytesPerMs
  }

  /** Forgets the least recently used peers with nothing in flight until the table fits. */
  private evict(): void {
    for (const [id, s] of this.map) {
      if (this.map.size <= this.max) return
      if (s.inflight === 0) this.map.delete(id)
    }
  }
}
