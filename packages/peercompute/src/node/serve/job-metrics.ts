import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { PieceReport } from '../../core/compute/mesh/job-types.js'

/** Distinct substrate label values kept; any further one is counted as `other` (peers name their substrate). */
export const MAX_SUBSTRATE_LABELS = 16

/** The serving node's job metrics for Prometheus. */
export class JobMetrics {
  /** The registry to expose on `/metrics`. */
  readonly registry = new Registry()
  private readonly submitted: Counter
  private readonly finished: Counter<'state'>
  private readonly pieces: Counter<'substrate' | 'outcome'>
  private readonly bytes: Counter<'substrate'>
  private readonly cost: Counter<'substrate'>
  private readonly duration: Histogram<'substrate'>
  private readonly substrates = new Set<string>()

  /** `jobsByState` is read at each scrape. */
  constructor(jobsByState: () => Record<string, number>) {
    const registers = [this.registry]
    new Gauge({
      name: 'peercompute_serve_jobs',
      help: 'Jobs the serving node holds, by state (finished ones: those still in its history)',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset()
        for (const [state, n] of Object.entries(jobsByState())) this.set({ state }, n)
      },
    })
    this.submitted = new Counter({
      name: 'peercompute_serve_jobs_submitted_total',
      help: 'Jobs accepted by POST /api/jobs',
      registers,
    })
    this.finished = new Counter({
      name: 'peercompute_serve_jobs_finished_total',
      help: 'Jobs that ended, by final state',
      labelNames: ['state'],
      registers,
    })
    this.pieces = new Counter({
      name: 'peercompute_serve_piece_runs_total',
      help: 'Piece runs of finished pieces, by substrate and outcome (ok, failed, outvoted)',
      labelNames: ['substrate', 'outcome'],
      registers,
    })
    this.bytes = new Counter({
      name: 'peercompute_serve_piece_bytes_total',
      help: 'Bytes of the pieces done, by the substrate of the accepted run',
      labelNames: ['substrate'],
      registers,
    })
    this.cost = new Counter({
      name: 'peercompute_serve_cost_usd_total',
      help: 'Cost of every piece run, US dollars, by substrate',
      labelNames: ['substrate'],
      registers,
    })
    this.duration = new Histogram({
      name: 'peercompute_serve_piece_duration_seconds',
      help: 'Submit-to-result time of each piece run, by substrate',
      labelNames: ['substrate'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers,
    })
  }

  /** A job was accepted. */
  jobSubmitted(): void {
    this.submitted.inc()
  }

  /** A job ended in `state`. */
  jobFinished(state: string): void {
    this.finished.inc({ state })
  }

  /** A piece finished: its runs, bytes and cost. */
  piece(p: PieceReport): void {
    for (const run of p.runs) {
      const substrate = this.label(run.substrate)
      const outcome = !run.ok ? 'failed' : run.agreed === false ? 'outvoted' : 'ok'
      this.pieces.inc({ substrate, outcome })
      this.cost.inc({ substrate }, Number.isFinite(run.costUsd) && run.costUsd > 0 ? run.costUsd : 0)
      if (Number.isFinite(run.wallMs) && run.wallMs >= 0) this.duration.observe({ substrate }, run.wallMs / 1000)
    }
    this.bytes.inc({ substrate: this.label(p.substrate) }, p.length)
  }

  /** A bounded label: the substrate as the peer named it, or `other`. */
  private label(s: string): string {
    const clean = /^[a-z0-9][a-z0-9_-]{0,31}$/.test(s) ? s : 'other'
    if (this.substrates.has(clean)) return clean
    if (this.substrates.size >= MAX_SUBSTRATE_LABELS) return 'other'
    this.substrates.add(clean)
    return clean
  }
}
