import { createHash } from 'node:crypto'
import type { Job } from '../../core/compute/mesh/job.js'
import type { PieceReport } from '../../core/compute/mesh/job-types.js'
import type { SubmitSpec } from '../../core/compute/mesh/submit-task.js'
import { AbortError, IdempotencyConflictError, InvalidOptionError, QueueFullError } from '../../core/errors.js'
import { IdempotencyKeys } from './idempotency.js'
import type { JobMetrics } from './job-metrics.js'
import { resultFields, toSpec } from './job-shapes.js'
import type { ApiJob, ApiPieceReport, JobRequest } from './schemas.js'

/** What the service needs of a running mesh job (a `Job` from `node.compute.submit`). */
export type MeshJob = Pick<Job, 'result' | 'cancel' | 'addEventListener'>

/** Limits and collaborators of a JobService. */
export interface JobServiceInit {
  /** Starts a job on the mesh (`spec => node.compute.submit(spec)`). */
  submit: (spec: SubmitSpec) => MeshJob
  /** Refuses a URL this node's policy does not allow (throws UrlNotAllowedError): checked at POST. */
  checkUrl?: (url: string) => void
  /** The size of a URL's resource, for a URL source without `length` (a HEAD request). */
  contentLength?: (url: string, signal: AbortSignal) => Promise<number>
  /** Jobs running at once (default 4); more wait as `queued`. */
  maxRunning?: number
  /** Jobs waiting (default 64); past that POST answers 429. */
  maxQueued?: number
  /** Finished jobs kept for GET (default 1,000); the oldest are forgotten. */
  maxHistory?: number
  /** Piece reports kept per job (default 256; `piecesOmitted` counts the rest). */
  maxPiecesPerJob?: number
  /** How long an Idempotency-Key is remembered, ms (default 24 h). */
  idempotencyTtlMs?: number
  /** Idempotency-Keys remembered at once (default 10,000; the oldest go first). */
  maxIdempotencyKeys?: number
  metrics?: JobMetrics
}

/** What the service tells its listeners (the SSE streams). */
export type JobEvent =
  | { type: 'created' | 'progress' | 'done'; job: JobRecord }
  | { type: 'piece'; job: JobRecord; piece: ApiPieceReport }

/** A job as the service holds it. */
export interface JobRecord {
  readonly id: string
  readonly seq: number
  state: ApiJob['state']
  readonly kernel: ApiJob['kernel']
  readonly createdAt: number
  finishedAt?: number
  progress: { done: number; total: number; pieces: number }
  costUsd: number
  result?: number | string
  resultBytes?: number
  resultCrc32c?: string
  error?: { name: string; message: string }
  pieces: ApiPieceReport[]
  piecesOmitted: number
  /** Set while queued; dropped once it starts. */
  spec?: SubmitSpec
  mesh?: MeshJob
  abort: AbortController
  cancelled: boolean
}

/** A hash of a request body, for Idempotency-Key reuse checks. */
export function bodyHash(body: string): string {
  return createHash('sha256').update(body).digest('base64url')
}

/**
 * The jobs of `peercompute serve`: accepts requests, runs at most `maxRunning`
 * at once on the mesh (the rest queued, bounded), keeps a bounded history, and
 * tells listeners of every change.
 */
export class JobService {
  private readonly init: Required<Omit<JobServiceInit, 'metrics' | 'contentLength' | 'checkUrl'>> &
    Pick<JobServiceInit, 'metrics' | 'contentLength' | 'checkUrl'>
  private readonly jobs = new Map<string, JobRecord>()
  private readonly queue: JobRecord[] = []
  private readonly idem: IdempotencyKeys
  private readonly listeners = new Set<(e: JobEvent) => void>()
  private running = 0
  private finishedCount = 0
  private seq = 0
  private stopped = false
  /** Completed pieces in the last seconds, for the stats events: [time, bytes]. */
  private readonly recent: Array<[number, number]> = []
  private totalCost = 0

  constructor(init: JobServiceInit) {
    this.init = {
      maxRunning: 4,
      maxQueued: 64,
      maxHistory: 1000,
      maxPiecesPerJob: 256,
      idempotencyTtlMs: 24 * 3600_000,
      maxIdempotencyKeys: 10_000,
      // an option given as undefined keeps its default
      ...(Object.fromEntries(Object.entries(init).filter(([, x]) => x !== undefined)) as JobServiceInit),
    }
    this.idem = new IdempotencyKeys(this.init.idempotencyTtlMs, this.init.maxIdempotencyKeys)
  }

  /** Idempotency-Keys held now. */
  get idempotencyKeys(): number {
    return this.idem.size
  }

  /**
   * Accepts a checked request. With an Idempotency-Key already used for the
   * same body: that job (`created: false`); for another body: IdempotencyConflictError.
   * QueueFullError when `maxQueued` jobs wait already; InvalidOptionError for a range outside the inline data;
   * UrlNotAllowedError for a URL that `checkUrl` refuses.
   */
  create(req: JobRequest, opts: { idempotencyKey?: string; bodyHash?: string } = {}) {
    if (this.stopped) throw new QueueFullError('the server is stopping')
    const key = opts.idempotencyKey
    const hash = opts.bodyHash ?? ''
    if (key !== undefined) {
      const seen = this.idem.get(key)
      const job = seen && this.jobs.get(seen.jobId)
      if (seen && job) {
        if (seen.bodyHash !== hash)
          throw new IdempotencyConflictError('this Idempotency-Key was used with a different request body')
        return { job, created: false }
      }
    }
    if (this.queue.length >= this.init.maxQueued)
      throw new QueueFullError(`${this.queue.length} jobs are waiting already; try again later`)
    const spec = toSpec(req)
    if (!(spec.data instanceof Uint8Array)) this.init.checkUrl?.(spec.data.url)
    const id = `job-${Date.now().toString(36)}-${(++this.seq).toString(36)}`
    const total = spec.data instanceof Uint8Array ? spec.data.length : spec.data.length
    const job: JobRecord = {
      id,
      seq: this.seq,
      state: 'queued',
      kernel: req.kernel,
      createdAt: Date.now(),
      progress: { done: 0, total, pieces: 0 },
      costUsd: 0,
      pieces: [],
      piecesOmitted: 0,
      spec,
      abort: new AbortController(),
      cancelled: false,
    }
    this.jobs.set(id, job)
    if (key !== undefined) this.idem.set(key, id, hash)
    this.queue.push(job)
    this.init.metrics?.jobSubmitted()
    this.emit({ type: 'created', job })
    this.pump()
    return { job, created: true }
  }

  /** The job `id`, if held. */
  get(id: string): JobRecord | undefined {
    return this.jobs.get(id)
  }

  /** Up to `limit` jobs, newest first, older than the cursor (a `seq`); `next` is the cursor of the next page. */
  list(limit: number, cursor?: number): { jobs: JobRecord[]; next: string | null } {
    const all = [...this.jobs.values()]
    const out: JobRecord[] = []
    for (let i = all.length - 1; i >= 0 && out.length <= limit; i--)
      if (cursor === undefined || all[i].seq < cursor) out.push(all[i])
    const more = out.length > limit
    if (more) out.pop()
    return { jobs: out, next: more ? String(out[out.length - 1].seq) : null }
  }

  /** Cancels a queued or running job (running pieces are cancelled on their peers); a finished job is left as it is. */
  cancel(id: string): JobRecord | undefined {
    const job = this.jobs.get(id)
    if (!job || isFinished(job.state)) return job
    job.cancelled = true
    job.abort.abort(new AbortError('the job was cancelled'))
    if (job.state === 'queued') this.queue.splice(this.queue.indexOf(job), 1)
    // cancelled from now on; the mesh job's own end (its pieces cancelled on their peers) follows
    job.mesh?.cancel()
    this.finish(job, 'cancelled', { error: { name: 'AbortError', message: 'the job was cancelled' } })
    return job
  }

  /** Jobs held, by state. */
  countByState(): Record<ApiJob['state'], number> {
    const n = { queued: 0, running: 0, done: 0, failed: 0, cancelled: 0 }
    for (const j of this.jobs.values()) n[j.state]++
    return n
  }

  /** Throughput over the last second and the cost of every piece since start. */
  stats(now = Date.now()): { at: number; tasksPerSec: number; bytesPerSec: number; costUsd: number } {
    this.pruneRecent(now)
    return {
      at: now,
      tasksPerSec: this.recent.length,
      bytesPerSec: this.recent.reduce((s, [, b]) => s + b, 0),
      costUsd: this.totalCost,
    }
  }

  /** Forgets pieces done more than a second ago. */
  private pruneRecent(now: number): void {
    let drop = 0
    while (drop < this.recent.length && this.recent[drop][0] <= now - 1000) drop++
    if (drop) this.recent.splice(0, drop)
  }

  /** Calls `fn` on every change; returns the unsubscribe. */
  subscribe(fn: (e: JobEvent) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  /** Cancels every job and stops taking new ones. */
  stop(): void {
    this.stopped = true
    for (const j of [...this.jobs.values()]) this.cancel(j.id)
    this.listeners.clear()
  }

  private emit(e: JobEvent): void {
    for (const fn of [...this.listeners]) {
      try {
        fn(e)
      } catch {
        // a listener's failure is its own (an SSE stream drops itself)
      }
    }
  }

  private pump(): void {
    while (!this.stopped && this.running < this.init.maxRunning && this.queue.length) {
      const job = this.queue.shift() as JobRecord
      this.running++
      this.start(job)
        .finally(() => {
          this.running--
          this.pump()
        })
        .catch(() => {}) // start() settles every failure into the job's state
    }
  }

  private async start(job: JobRecord): Promise<void> {
    const spec = job.spec as SubmitSpec
    job.spec = undefined
    job.state = 'running'
    this.emit({ type: 'progress', job })
    try {
      const d = spec.data
      if (!(d instanceof Uint8Array) && d.length < 0) {
        if (!this.init.contentLength) throw new InvalidOptionError('a URL source needs a length')
        const size = await this.init.contentLength(d.url, job.abort.signal)
        d.length = Math.max(0, size - (d.offset ?? 0))
        job.progress.total = d.length
      }
      job.abort.signal.throwIfAborted()
      const mesh = this.init.submit({ ...spec, signal: job.abort.signal })
      job.mesh = mesh
      mesh.addEventListener('piece', (e) => this.onPiece(job, e.detail))
      mesh.addEventListener('progress', (e) => {
        job.progress = { done: e.detail.bytesDone, total: e.detail.bytesTotal, pieces: e.detail.piecesDone }
        this.emit({ type: 'progress', job })
      })
      const r = await mesh.result
      this.finish(job, 'done', resultFields(r))
    } catch (err) {
      const e = err as Error
      const error = { name: e?.name ?? 'Error', message: String(e?.message ?? err).slice(0, 1000) }
      this.finish(job, job.cancelled ? 'cancelled' : 'failed', { error })
    }
  }

  private onPiece(job: JobRecord, p: PieceReport): void {
    this.init.metrics?.piece(p)
    const cost = p.runs.reduce((s, r) => s + (Number.isFinite(r.costUsd) && r.costUsd > 0 ? r.costUsd : 0), 0)
    job.costUsd += cost
    this.totalCost += cost
    const now = Date.now()
    this.pruneRecent(now)
    if (this.recent.length < 100_000) this.recent.push([now, p.length]) // a second's pieces, bounded
    const piece: ApiPieceReport = {
      index: p.index,
      peer: p.peer,
      substrate: p.substrate,
      durationMs: p.wallMs,
      execMs: p.execMs,
      costUsd: p.costUsd,
      offset: p.offset,
      bytes: p.length,
      attempts: p.attempts,
      outcome: p.attempts > Math.max(1, p.runs.filter((r) => r.ok).length) ? 'retried' : 'ok',
    }
    if (job.pieces.length < this.init.maxPiecesPerJob) job.pieces.push(piece)
    else job.piecesOmitted++
    this.emit({ type: 'piece', job, piece })
  }

  private finish(job: JobRecord, state: 'done' | 'failed' | 'cancelled', fields: Partial<JobRecord>): void {
    if (isFinished(job.state)) return
    Object.assign(job, fields)
    job.state = state
    job.finishedAt = Date.now()
    job.mesh = undefined
    this.init.metrics?.jobFinished(state)
    this.finishedCount++
    this.emit({ type: 'done', job })
    this.trimHistory()
  }

  /** Forgets the oldest finished jobs past `maxHistory`. */
  private trimHistory(): void {
    if (this.finishedCount <= this.init.maxHistory) return
    for (const [id, j] of this.jobs) {
      if (this.finishedCount <= this.init.maxHistory) break
      if (!isFinished(j.state)) continue
      this.jobs.delete(id)
      this.finishedCount--
    }
  }
}

/** True for a state a job does not leave. */
export function isFinished(state: ApiJob['state']): boolean {
  return state === 'done' || state === 'failed' || state === 'cancelled'
}
