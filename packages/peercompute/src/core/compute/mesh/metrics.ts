/** One piece attempt, as the metrics ring records it. */
export interface PieceMetric {
  timestamp: number
  job: string
  piece: number
  attempt: number
  peer: string
  substrate: string
  execMs: number
  /** Submit-to-result time, ms (transfer and queueing included). */
  wallMs: number
  bytes: number
  costUsd: number
  ok: boolean
  /** The error's name when the attempt failed; `ResultMismatch` when the peer was outvoted, `MalformedResult` when its result had the wrong shape. */
  error?: string
}

/** Totals over what the ring holds. */
export interface MetricsSummary {
  records: number
  ok: number
  failed: number
  bytes: number
  costUsd: number
  meanExecMs: number
  /** Peers caught returning a wrong or malformed result, since the node started (the newest MAX_LIARS_KEPT). */
  liars: string[]
}

/** Liars a MetricsRing remembers (peer ids are free: the oldest are forgotten past this). */
export const MAX_LIARS_KEPT = 1024

/** A bounded ring of piece metrics: the newest `capacity` kept, older ones dropped. */
export class MetricsRing {
  private readonly capacity: number
  private readonly items: PieceMetric[] = []
  private head = 0
  private readonly liars = new Set<string>()

  constructor(capacity = 1000) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be an integer ≥ 1`)
    this.capacity = capacity
  }

  record(m: PieceMetric): void {
    if (this.items.length < this.capacity) this.items.push(m)
    else {
      this.items[this.head] = m
      this.head = (this.head + 1) % this.capacity
    }
  }

  /**
   * Notes a peer caught lying: its runs of that piece are marked failed
   * (`ResultMismatch` when outvoted, `MalformedResult` for a result of the wrong shape).
   */
  flagLiar(peer: string, at?: { job: string; piece: number; reason?: 'mismatch' | 'malformed' }): void {
    this.liars.delete(peer) // re-inserted as the newest
    this.liars.add(peer)
    for (const old of this.liars) {
      if (this.liars.size <= MAX_LIARS_KEPT) break
      this.liars.delete(old)
    }
    if (!at) return
    for (const m of this.items)
      if (m.peer === peer && m.job === at.job && m.piece === at.piece && m.ok) {
        m.ok = false
        m.error = at.reason === 'malformed' ? 'MalformedResult' : 'ResultMismatch'
      }
  }

  /** The newest `limit` records (default all), oldest first. */
  list(opts: { limit?: number } = {}): PieceMetric[] {
    const ordered = [...this.items.slice(this.head), ...this.items.slice(0, this.head)]
    const limit = opts.limit ?? ordered.length
    if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`limit must be an integer ≥ 0`)
    return limit === 0 ? [] : ordered.slice(-limit)
  }

  summary(): MetricsSummary {
    let ok = 0
    let bytes = 0
    let cost = 0
    let exec = 0
    for (const m of this.items) {
      if (m.ok) {
        ok++
        exec += m.execMs
      }
      bytes += m.ok ? m.bytes : 0
      cost += m.costUsd
    }
    return {
      records: this.items.length,
      ok,
      failed: this.items.length - ok,
      bytes,
      costUsd: cost,
      meanExecMs: ok ? exec / ok : 0,
      liars: [...this.liars],
    }
  }
}
