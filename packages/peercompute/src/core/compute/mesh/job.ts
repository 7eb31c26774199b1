import { TypedEventEmitter } from 'main-event'
import {
  AbortError,
  DataSourceError,
  MalformedResultError,
  PeerComputeError,
  ResultMismatchError,
} from '../../errors.js'
import { isOp, type Op } from '../../ops.js'
import type { ContentPin } from '../range-fetch.js'
import { combine } from './combine.js'
import { TASK_LIMITS } from './executor/limits.js'
import {
  agreementNeeded,
  DEFAULT_MAX_ATTEMPTS,
  failedRun,
  judgeFailure,
  MAX_BUSY_REFUSALS,
  retryDelayMs,
} from './failures.js'
import type { JobEvents, JobHost, JobInit, JobResult, LieKind, Piece, RunOutcome } from './job-types.js'
import { newPiece, nextPieceSize, TINY_PIECE, TINY_PIPELINE } from './pieces.js'
import { fits, jobResult, noPeerOutcome, PEER_GRACE_MS, pieceReport, pieceTask } from './placement.js'
import type { Candidate, PieceContext, SchedulerPolicy } from './policies.js'
import { resultProblem } from './result-check.js'
import { EXTRA_RUNS, pinKey, tally, valueKey } from './vote.js'

export type {
  JobEvents,
  JobHost,
  JobInit,
  JobResult,
  JobSpec,
  LieKind,
  PieceReport,
  PieceRun,
  Requirements,
  RunOutcome,
} from './job-types.js'

let jobCounter = 0

/**
 * A running job: cuts the range into pieces, places each on the best
 * candidates by the policy, re-places what fails, votes when redundant, and
 * combines the accepted pieces per op. `result` settles exactly once.
 */
export class Job extends TypedEventEmitter<JobEvents> {
  readonly id: string
  /** Settles with the result, or rejects with a typed error. */
  readonly result: Promise<JobResult>
  private readonly spec: JobInit
  /** The kernel every piece runs. */
  private readonly kernel: string
  /** The built-in op, if the kernel is one (then pieces split and combine per op). */
  private readonly op?: Op
  private readonly host: JobHost
  private readonly policy: SchedulerPolicy
  private readonly total: number
  private readonly base: number
  private readonly pieces: Piece[] = []
  private readonly liars = new Set<string>()
  private readonly ac = new AbortController()
  private readonly t0 = performance.now()
  private readonly out?: Uint8Array
  /** The version of a URL's content the job reads: set by the first accepted piece that reports one. */
  private pin?: ContentPin
  private cursor = 0
  private finished = false
  private replaced = 0
  private launches = 0
  private restUntil?: number
  /** When placement last found a peer that could run this job's pieces. */
  private lastEligibleAt?: number
  private timer?: ReturnType<typeof setTimeout>
  private resolve!: (r: JobResult) => void
  private reject!: (e: Error) => void

  constructor(spec: JobInit, host: JobHost, policy: SchedulerPolicy) {
    super()
    this.id = `job-${++jobCounter}-${Date.now().toString(36)}`
    this.spec = spec
    this.kernel = 'op' in spec ? spec.op : spec.kernel
    if (isOp(this.kernel) && 'op' in spec) this.op = this.kernel
    this.host = host
    this.policy = policy
    const d = spec.data
    this.total = d instanceof Uint8Array ? d.length : d.length
    this.base = d instanceof Uint8Array ? 0 : (d.offset ?? 0)
    if (this.op === 'xor' || this.op === 'add') this.out = new Uint8Array(this.total)
    this.result = new Promise<JobResult>((res, rej) => {
      this.resolve = res
      this.reject = rej
    })
    this.result.catch(() => {}) // a caller that only listens to `done` must not see an unhandled rejection
    const signal = spec.signal
    if (signal?.aborted) queueMicrotask(() => this.cancel())
    else signal?.addEventListener('abort', () => this.cancel(), { once: true })
    queueMicrotask(() => this.pump())
  }

  /** Stops the job: every running piece is cancelled on its peer; `result` rejects with `AbortError`. */
  cancel(): void {
    this.fail(new AbortError('the job was cancelled'))
  }

  /** True while a piece waits for a free slot on some peer. */
  starved = false

  /** Tries to place waiting pieces again (the host calls it when a slot frees up); true if it placed any. */
  wake(): boolean {
    const before = this.launches
    this.pump()
    return this.launches > before
  }

  private get redundancy(): number {
    return this.spec.redundancy ?? 1
  }

  private get sequential(): boolean {
    return this.op === 'fnv64' // each piece is seeded with the state after the one before
  }

  /** Candidates that meet the job's needs; those sitting out (unreachable lately) only with `resting`. */
  private eligible(piece: PieceContext, resting = false): Candidate[] {
    const now = performance.now()
    return this.host.candidates().filter((c) => {
      if (!resting && c.downUntil !== undefined && c.downUntil > now) return false
      return !this.liars.has(c.id) && fits(c, this.spec, this.kernel, piece)
    })
  }

  private pump(): void {
    this.starved = false
    if (this.finished) return
    clearTimeout(this.timer)
    const now = performance.now()
    let wake = Number.POSITIVE_INFINITY
    for (;;) {
      let piece = this.pieces.find((p) => p.accepted === undefined && this.needs(p) > 0 && p.notBefore <= now)
      for (const p of this.pieces)
        if (p.accepted === undefined && this.needs(p) > 0 && p.notBefore > now) wake = Math.min(wake, p.notBefore)
      const mayCut = this.cursor < this.total || (this.total === 0 && this.pieces.length === 0)
      if (!piece && mayCut && !(this.sequential && this.pieces.some((p) => p.accepted === undefined))) {
        const size = this.nextSize()
        if (size < 0) {
          if (this.restUntil !== undefined) wake = Math.min(wake, this.restUntil)
          this.restUntil = undefined
          break
        }
        piece = this.cut(size)
      }
      if (!piece) break
      const ctx = { bytes: piece.length, affinityKey: this.spec.affinityKey ?? this.kernel }
      const all = this.eligible(ctx)
      const fresh = all.filter((c) => !piece.running.has(c.id) && !piece.ok.some((o) => o.peer === c.id))
      let usable = fresh.filter((c) => !piece.excluded.has(c.id))
      if (usable.length === 0 && fresh.length > 0 && piece.running.size === 0) {
        piece.excluded.clear() // every candidate failed this piece once: try them again (attempts are bounded)
        usable = fresh
      }
      if (all.length > 0) this.lastEligibleAt = now
      if (usable.length === 0) {
        const next = noPeerOutcome({
          piece,
          eligible: all.length,
          restingUntil: this.restingUntil(ctx),
          lastEligibleAt: this.lastEligibleAt,
          graceMs: this.spec.peerGraceMs ?? PEER_GRACE_MS,
          now,
          redundancy: this.redundancy,
          kernel: this.kernel,
        })
        if (next === 'running') break // wait for what runs
        if (next instanceof Error) {
          this.fail(next)
          return
        }
        wake = Math.min(wake, next.wake) // a peer resting or gone may be back by then
        break
      }
      // tiny pieces are pipelined: their cost is the round trip, not the peer's cores
      const depth =
        ('pipeline' in this.spec ? this.spec.pipeline : undefined) ?? (piece.length <= TINY_PIECE ? TINY_PIPELINE : 1)
      // never past an executor's default per-peer in-flight limit: more would only be refused
      const free = usable.filter((c) => c.inflight < Math.min(c.slots * depth, TASK_LIMITS.maxInflightPerPeer))
      if (free.length === 0) {
        this.starved = true
        break
      }
      free.sort((a, b) => this.policy.score(a, ctx) - this.policy.score(b, ctx))
      this.launch(piece, free[0])
    }
    if (wake < Number.POSITIVE_INFINITY) this.timer = setTimeout(() => this.pump(), Math.max(1, wake - now))
  }

  /** When the first eligible peer that sits out may be tried again; undefined if none does. */
  private restingUntil(piece: PieceContext): number | undefined {
    const back = this.eligible(piece, true)
      .map((c) => c.downUntil)
      .filter((t): t is number => t !== undefined)
    return back.length ? Math.min(...back) : undefined
  }

  /** Runs still to start for a piece. */
  private needs(p: Piece): number {
    return p.want - p.ok.length - p.running.size
  }

  /** The size of the next piece to cut, or -1 if nothing can take it now. */
  private nextSize(): number {
    const s = nextPieceSize({
      remaining: this.total - this.cursor,
      splittable: this.op !== undefined,
      pieceBytes: this.spec.pieceBytes,
      sequential: this.sequential,
      affinityKey: this.spec.affinityKey ?? this.kernel,
      policy: this.policy,
      eligible: (ctx) => this.eligible(ctx),
      restingUntil: (ctx) => this.restingUntil(ctx),
    })
    if ('size' in s) return s.size
    if (s.wait === 'starved') this.starved = true
    else this.restUntil = s.until
    return -1
  }

  private cut(size: number): Piece {
    const p = newPiece(this.pieces.length, this.cursor, size, this.redundancy)
    if (this.sequential && this.pieces.length > 0) p.seed = this.pieces[this.pieces.length - 1].accepted
    this.cursor += size
    this.pieces.push(p)
    return p
  }

  private launch(p: Piece, c: Candidate): void {
    this.launches++
    const ac = new AbortController()
    const onAbort = () => ac.abort(this.ac.signal.reason)
    this.ac.signal.addEventListener('abort', onAbort, { once: true })
    p.running.set(c.id, ac)
    const attempt = p.runs.length + 1
    this.host
      .run(c, pieceTask(this.spec, this.kernel, p, this.pin), { job: this.id, piece: p.index, attempt }, ac.signal)
      .then(
        (r) => this.onResult(p, c, attempt, r),
        (err: Error) => this.onFailure(p, c, attempt, err),
      )
      .finally(() => this.ac.signal.removeEventListener('abort', onAbort))
      .catch((err: Error) => this.fail(err))
  }

  private onResult(p: Piece, c: Candidate, attempt: number, r: RunOutcome): void {
    p.running.delete(c.id)
    if (this.finished || p.accepted !== undefined) return
    const why = this.check(p, r.output)
    if (why) {
      this.onFailure(p, c, attempt, new MalformedResultError(`${c.id}: ${why}`))
      return
    }
    p.runs.push({
      peer: c.id,
      substrate: r.substrate,
      attempt,
      ok: true,
      execMs: r.execMs,
      wallMs: r.wallMs,
      costUsd: r.costUsd,
    })
    if (this.liars.has(c.id)) {
      p.runs[p.runs.length - 1].agreed = false // caught lying elsewhere meanwhile: its word does not count
      this.pump()
      return
    }
    const key = this.redundancy > 1 ? valueKey(r.output, r.validator) : '' // a lone result is grouped with nothing
    p.ok.push({ peer: c.id, value: r.output, validator: r.validator, key })
    if (p.ok.length >= p.want) this.vote(p)
    this.pump()
  }

  /**
   * Why a result may not count for piece `p`; undefined when it may. Its shape
   * per op (result-check.ts) is checked for every run, local ones included.
   * Content pinning (a validator of the URL's version) belongs here too.
   */
  private check(p: Piece, value: unknown): string | undefined {
    const own = 'checkResult' in this.spec ? this.spec.checkResult : undefined
    return resultProblem(this.kernel, value, p.length) ?? own?.(value)
  }

  private vote(p: Piece): void {
    const t = tally(p.ok, this.redundancy)
    if (!t.decided) {
      if (p.want < this.redundancy + EXTRA_RUNS) p.want++
      else
        this.fail(
          new ResultMismatchError(`piece ${p.index}: ${p.ok.length} results from distinct peers and no majority`),
        )
      return
    }
    for (const run of p.runs) if (run.ok) run.agreed = t.winners.has(run.peer)
    for (const o of p.ok) if (!t.winners.has(o.peer)) this.catchLiar(o.peer, p, 'mismatch')
    for (const ac of p.running.values()) ac.abort(new AbortError('the piece is decided'))
    p.running.clear()
    this.accept(p, t.value, t.peer, t.validator)
  }

  /**
   * Excludes `peer` from the rest of the job and tells the host.
   * Its results still waiting for a vote stay: alone they cannot form a majority.
   */
  private catchLiar(peer: string, at: Piece, reason: LieKind): void {
    this.liars.add(peer)
    this.host.flagLiar(peer, { job: this.id, piece: at.index, reason }) // per piece: each lie scores it down
  }

  private accept(p: Piece, value: unknown, peer: string, validator?: ContentPin): void {
    // the first version of a URL's content accepted pins the rest of the job: a file replaced mid-job fails it
    if (validator && !this.pin) this.pin = validator
    else if (validator && this.pin && pinKey(validator) !== pinKey(this.pin)) {
      this.fail(new DataSourceError(`piece ${p.index}: the content changed during the job; no mixed result`))
      return
    }
    p.accepted = value
    if (this.out) this.out.set(value as Uint8Array, p.offset)
    const report = pieceReport(p, peer, this.base)
    p.report = report
    this.safeDispatch('piece', report)
    const done = this.pieces.filter((x) => x.accepted !== undefined)
    this.safeDispatch('progress', {
      bytesDone: done.reduce((s, x) => s + x.length, 0),
      bytesTotal: this.total,
      piecesDone: done.length,
    })
    if (this.cursor >= this.total && done.length === this.pieces.length) this.finish()
  }

  private onFailure(p: Piece, c: Candidate, attempt: number, err: Error): void {
    p.running.delete(c.id)
    if (this.finished || p.accepted !== undefined) return
    p.runs.push(failedRun(c, attempt, err))
    const ctx = { bytes: p.length, affinityKey: this.spec.affinityKey ?? this.kernel }
    const needed = agreementNeeded(this.redundancy, this.eligible(ctx, true).length)
    const verdict = judgeFailure(err, c, p.index, p.reported, needed)
    if (verdict.kind === 'fail') {
      this.fail(verdict.error)
      return
    }
    if (verdict.kind === 'busy' && ++p.busy <= MAX_BUSY_REFUSALS) {
      // not a failure: the host rests that peer briefly, and the piece goes wherever a slot is free
      this.pump()
      return
    }
    if (verdict.kind === 'lie') this.catchLiar(c.id, p, 'malformed')
    p.failures++
    this.replaced++
    if (p.failures >= (this.spec.maxAttempts ?? DEFAULT_MAX_ATTEMPTS)) {
      const e = new PeerComputeError(
        `piece ${p.index} failed ${p.failures} times; last on ${c.id}: ${err.name}: ${err.message}`,
        { cause: err },
      )
      this.fail(e)
      return
    }
    p.excluded.add(c.id)
    p.notBefore = performance.now() + retryDelayMs(p.failures)
    this.pump()
  }

  private finish(): void {
    const res = jobResult(combine(this.op, this.pieces, this.out), this.pieces, {
      t0: this.t0,
      liars: this.liars,
      replaced: this.replaced,
    })
    this.finished = true
    clearTimeout(this.timer)
    this.resolve(res)
    this.safeDispatch('done', { result: res })
  }

  private fail(err: Error): void {
    if (this.finished) return
    this.finished = true
    clearTimeout(this.timer)
    this.ac.abort(err)
    this.reject(err)
    this.safeDispatch('done', { error: err })
  }

  private safeDispatch<K extends keyof JobEvents>(type: K, detail: JobEvents[K]['detail']): void {
    if (this.listenerCount(type) === 0) return // no event built for no one (it adds up for tiny jobs)
    try {
      this.safeDispatchEvent(type, { detail } as never)
    } catch {
      // a listener's error must not break the job
    }
  }
}
