import * as kernels from '@peercompute/kernels'
import { TypedEventEmitter } from 'main-event'
import { AbortError, NoEligiblePeerError, PeerComputeError, ResultMismatchError } from '../../errors.js'
import { isOp, type Op, type OpResult } from '../../ops.js'
import type { RangeInput } from '../range-fetch.js'
import { type Candidate, expectedMs, type PieceContext, type SchedulerPolicy } from './policies.js'

/** What a job needs of a peer. */
export interface Requirements {
  memoryMb?: number
  /** Longest a piece may take there, s; also each attempt's deadline. */
  maxDurationS?: number
  gpu?: boolean
}

/** A data job over a byte range, as `node.compute.submit` takes it. */
export interface JobSpec {
  op: Op
  /** The bytes, or a URL range each executor fetches itself with HTTP Range. */
  data: Uint8Array | { url: string; offset?: number; length: number }
  /** counteq / xor / add: the byte. */
  imm?: number
  /** xor: a key repeated over the data from its first byte (pieces get it rotated into phase). */
  key?: Uint8Array
  requirements?: Requirements
  /** Distinct peers each piece runs on; results must agree (default 1). */
  redundancy?: number
  /** Default `balanced`. */
  policy?: SchedulerPolicy
  /** `sticky`: the affinity key (default the op). */
  affinityKey?: string
  /** Fixed piece size, bytes; without it pieces start at 8 MiB and adapt to the throughput measured. */
  pieceBytes?: number
  /** Failed attempts allowed per piece before the job fails (default 4). */
  maxAttempts?: number
  /** Deadline of each attempt, ms (default 60,000, or `requirements.maxDurationS`). */
  deadlineMs?: number
  /** Run pieces on this node too (default true). */
  includeLocal?: boolean
  /** Only these peer ids (this node's own id included) may run pieces. */
  peers?: string[]
  signal?: AbortSignal
}

/**
 * A job as a Job runs it: a built-in op over a range (split into pieces), or a
 * registered kernel by name (one piece: its input is the kernel's, its output the result).
 */
export type JobInit =
  | JobSpec
  | (Omit<JobSpec, 'op' | 'imm' | 'key'> & { kernel: string; params?: Record<string, unknown> })

/** One attempt of a piece on one peer. */
export interface PieceRun {
  peer: string
  substrate: string
  attempt: number
  ok: boolean
  error?: string
  execMs: number
  wallMs: number
  costUsd: number
  /** False when redundancy outvoted this run. */
  agreed?: boolean
}

/** A finished piece: its range, where it ran, how long, what it cost. */
export interface PieceReport {
  index: number
  offset: number
  length: number
  /** Where the accepted result came from (the first agreeing run). */
  peer: string
  substrate: string
  /** Attempts made (failed ones and redundant runs included). */
  attempts: number
  execMs: number
  wallMs: number
  costUsd: number
  runs: PieceRun[]
}

/** What a finished job returns. */
export interface JobResult {
  success: true
  /** The combined result (a registered kernel's job: that kernel's output). */
  result: OpResult
  /** The substrate every piece ran on, or `mixed`. */
  substrate: string
  /** Peers whose results were accepted. */
  peers: string[]
  executionTimeMs: number
  costUsd: number
  pieces: PieceReport[]
  /** Peers caught returning a wrong result (excluded for the rest of the job). */
  liars: string[]
  /** Pieces that were placed again after a failed attempt. */
  replaced: number
}

/** Events of a Job. */
export interface JobEvents {
  progress: CustomEvent<{ bytesDone: number; bytesTotal: number; piecesDone: number }>
  piece: CustomEvent<PieceReport>
  done: CustomEvent<{ result?: JobResult; error?: Error }>
}

/** One attempt's outcome as the host reports it. */
export interface RunOutcome {
  output: unknown
  execMs: number
  wallMs: number
  substrate: string
  costUsd: number
}

/** What a Job needs from its ComputeManager. */
export interface JobHost {
  /** The local node and the peers, with their stats (fresh on each call). */
  candidates(): Candidate[]
  /** Runs one piece on a candidate (inflight, throughput, failures and metrics are the host's). */
  run(
    c: Candidate,
    task: {
      /** A built-in op or a registered kernel's name. */
      op: string
      input: Uint8Array | RangeInput
      params: Record<string, unknown>
      deadlineMs: number
      prefer?: 'cpu' | 'gpu'
    },
    meta: { job: string; piece: number; attempt: number },
    signal: AbortSignal,
  ): Promise<RunOutcome>
  /** Reports a peer caught returning a wrong result. */
  flagLiar(peer: string, meta: { job: string; piece: number }): void
}

interface Piece {
  index: number
  offset: number
  length: number
  want: number
  running: Map<string, AbortController>
  ok: Array<{ peer: string; value: unknown; key: string }>
  runs: PieceRun[]
  failures: number
  excluded: Set<string>
  notBefore: number
  accepted?: unknown
  report?: PieceReport
  seed?: unknown
}

const MiB = 1024 * 1024
const DEFAULT_PIECE = 8 * MiB
const MIN_PIECE = 64 * 1024
/** Pieces up to this size count as tiny. */
const TINY_PIECE = 64 * 1024
/** How many times its slots a peer may have in flight when the pieces are tiny. */
const TINY_PIPELINE = 16
/** Tail pieces shrink to keep every peer busy, but not below this. */
const MIN_TAIL = MiB
const MAX_PIECE = 64 * MiB
/** Adapted pieces aim to take this long on the peer that gets them. */
const TARGET_PIECE_MS = 1000
/** Runs beyond `redundancy` that may be added to break a tie. */
const EXTRA_RUNS = 3
/** Errors that another peer would meet too: the job fails at once. */
const NON_RETRYABLE = new Set(['DataSourceError', 'PayloadTooLargeError'])

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
  private cursor = 0
  private finished = false
  private replaced = 0
  private launches = 0
  private restUntil?: number
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
    const req = this.spec.requirements ?? {}
    const now = performance.now()
    return this.host.candidates().filter((c) => {
      if (!resting && c.downUntil !== undefined && c.downUntil > now) return false
      if (this.liars.has(c.id)) return false
      if (this.spec.includeLocal === false && c.local) return false
      if (this.spec.peers && !this.spec.peers.includes(c.id)) return false
      if (!c.caps.kernels.includes(this.kernel)) return false
      if (req.memoryMb !== undefined && c.caps.memoryMb < req.memoryMb) return false
      if (req.gpu && !c.caps.gpu) return false
      if (req.maxDurationS !== undefined && expectedMs(c, piece) > req.maxDurationS * 1000) return false
      return true
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
      if (usable.length === 0) {
        if (piece.running.size > 0) break // wait for what runs
        const back = this.restingUntil(ctx)
        if (back !== undefined) {
          wake = Math.min(wake, back) // peers that were unreachable may be back by then
          break
        }
        if (piece.ok.length > 0 && new Set(piece.ok.map((o) => o.key)).size > 1) {
          this.fail(
            new ResultMismatchError(
              `piece ${piece.index}: ${piece.ok.length} results disagree and no other peer is left to decide`,
            ),
          )
          return
        }
        this.fail(
          new NoEligiblePeerError(
            all.length === 0
              ? `no peer runs ${this.kernel} with the job's requirements`
              : `piece ${piece.index} needs ${this.redundancy} distinct peers; ${all.length} eligible`,
          ),
        )
        return
      }
      // tiny pieces are pipelined: their cost is the round trip, not the peer's cores
      const depth = piece.length <= TINY_PIECE ? TINY_PIPELINE : 1
      const free = usable.filter((c) => c.inflight < c.slots * depth)
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
    const remaining = this.total - this.cursor
    if (!this.op) return remaining // a registered kernel's input is not ours to split
    if (this.spec.pieceBytes) return Math.min(this.spec.pieceBytes, remaining)
    const ctx = { bytes: Math.min(DEFAULT_PIECE, remaining), affinityKey: this.spec.affinityKey ?? this.kernel }
    const all = this.eligible(ctx)
    const free = all.filter((c) => c.inflight < c.slots)
    if (all.length === 0) {
      const back = this.restingUntil(ctx)
      if (back !== undefined) {
        this.restUntil = back
        return -1
      }
      return Math.min(DEFAULT_PIECE, remaining) // cut it anyway: the job fails with the reason
    }
    if (free.length === 0) {
      this.starved = true
      return -1
    }
    free.sort((a, b) => this.policy.score(a, ctx) - this.policy.score(b, ctx))
    const t = free[0].throughput
    let size = t ? clamp(t * TARGET_PIECE_MS, MIN_PIECE, MAX_PIECE) : DEFAULT_PIECE
    // near the end, smaller pieces keep every peer busy instead of waiting on one
    const slots = all.reduce((n, c) => n + c.slots, 0)
    if (!this.sequential) size = Math.min(size, Math.max(MIN_TAIL, Math.ceil(remaining / slots)))
    size = Math.ceil(size / MIN_PIECE) * MIN_PIECE
    return Math.min(size, remaining)
  }

  private cut(size: number): Piece {
    const p: Piece = {
      index: this.pieces.length,
      offset: this.cursor,
      length: size,
      want: this.redundancy,
      running: new Map(),
      ok: [],
      runs: [],
      failures: 0,
      excluded: new Set(),
      notBefore: 0,
    }
    if (this.sequential && this.pieces.length > 0) p.seed = this.pieces[this.pieces.length - 1].accepted
    this.cursor += size
    this.pieces.push(p)
    return p
  }

  private input(p: Piece): Uint8Array | RangeInput {
    const d = this.spec.data
    if (d instanceof Uint8Array) return d.subarray(p.offset, p.offset + p.length)
    return { url: d.url, offset: this.base + p.offset, length: p.length }
  }

  private launch(p: Piece, c: Candidate): void {
    this.launches++
    const ac = new AbortController()
    const onAbort = () => ac.abort(this.ac.signal.reason)
    this.ac.signal.addEventListener('abort', onAbort, { once: true })
    p.running.set(c.id, ac)
    const attempt = p.runs.length + 1
    const spec = this.spec
    const params: Record<string, unknown> = 'op' in spec ? {} : { ...spec.params }
    if ('op' in spec && spec.imm !== undefined) params.imm = spec.imm
    if ('op' in spec && spec.key !== undefined) params.key = keyAt(spec.key, p.offset)
    if (p.seed !== undefined) params.seed = p.seed
    const deadlineMs = this.spec.requirements?.maxDurationS
      ? this.spec.requirements.maxDurationS * 1000
      : (this.spec.deadlineMs ?? 60_000)
    this.host
      .run(
        c,
        {
          op: this.kernel,
          input: this.input(p),
          params,
          deadlineMs,
          prefer: this.spec.requirements?.gpu ? 'gpu' : undefined,
        },
        { job: this.id, piece: p.index, attempt },
        ac.signal,
      )
      .then(
        (r) => this.onResult(p, c, attempt, r),
        (err: Error) => this.onFailure(p, c, attempt, err),
      )
      .finally(() => this.ac.signal.removeEventListener('abort', onAbort))
      .catch((err: Error) => this.fail(err))
  }

  private onResult(p: Piece, c: Candidate, attempt: number, r: RunOutcome): void {
    p.running.delete(c.id)
    if (this.finished) return
    p.runs.push({
      peer: c.id,
      substrate: r.substrate,
      attempt,
      ok: true,
      execMs: r.execMs,
      wallMs: r.wallMs,
      costUsd: r.costUsd,
    })
    p.ok.push({ peer: c.id, value: r.output, key: valueKey(r.output) })
    if (p.ok.length >= p.want) this.vote(p)
    this.pump()
  }

  private vote(p: Piece): void {
    const groups = new Map<string, Array<{ peer: string; value: unknown }>>()
    for (const o of p.ok) groups.set(o.key, [...(groups.get(o.key) ?? []), o])
    const [top] = [...groups.values()].sort((a, b) => b.length - a.length)
    const majority = top.length * 2 > p.ok.length && (this.redundancy === 1 || top.length >= 2)
    if (!majority) {
      if (p.want < this.redundancy + EXTRA_RUNS) p.want++
      else
        this.fail(
          new ResultMismatchError(`piece ${p.index}: ${p.ok.length} results from distinct peers and no majority`),
        )
      return
    }
    const winners = new Set(top.map((o) => o.peer))
    for (const run of p.runs) if (run.ok) run.agreed = winners.has(run.peer)
    for (const o of p.ok) {
      if (winners.has(o.peer) || this.liars.has(o.peer)) continue
      this.liars.add(o.peer)
      this.host.flagLiar(o.peer, { job: this.id, piece: p.index })
    }
    for (const ac of p.running.values()) ac.abort(new AbortError('the piece is decided'))
    p.running.clear()
    this.accept(p, top[0].value, top[0].peer)
  }

  private accept(p: Piece, value: unknown, peer: string): void {
    p.accepted = value
    if (this.out) this.out.set(value as Uint8Array, p.offset)
    const first = p.runs.find((r) => r.ok && r.peer === peer) as PieceRun
    const report: PieceReport = {
      index: p.index,
      offset: this.base + p.offset,
      length: p.length,
      peer,
      substrate: first.substrate,
      attempts: p.runs.length,
      execMs: first.execMs,
      wallMs: first.wallMs,
      costUsd: p.runs.reduce((s, r) => s + r.costUsd, 0),
      runs: p.runs,
    }
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
    p.runs.push({
      peer: c.id,
      substrate: c.local ? 'local' : c.caps.substrate,
      attempt,
      ok: false,
      error: err.name,
      execMs: 0,
      wallMs: 0,
      costUsd: 0,
    })
    if (NON_RETRYABLE.has(err.name)) {
      this.fail(err)
      return
    }
    p.failures++
    this.replaced++
    if (p.failures >= (this.spec.maxAttempts ?? 4)) {
      const e = new PeerComputeError(
        `piece ${p.index} failed ${p.failures} times; last on ${c.id}: ${err.name}: ${err.message}`,
        { cause: err },
      )
      this.fail(e)
      return
    }
    p.excluded.add(c.id)
    p.notBefore = performance.now() + Math.min(2000, 50 * 2 ** (p.failures - 1))
    this.pump()
  }

  private finish(): void {
    const result = this.combine(this.pieces)
    const reports = this.pieces.map((p) => p.report as PieceReport)
    const substrates = new Set(reports.map((r) => r.substrate))
    const res: JobResult = {
      success: true,
      result,
      substrate: substrates.size === 1 ? [...substrates][0] : 'mixed',
      peers: [...new Set(reports.map((r) => r.peer))],
      executionTimeMs: performance.now() - this.t0,
      costUsd: reports.reduce((s, r) => s + r.costUsd, 0),
      pieces: reports,
      liars: [...this.liars],
      replaced: this.replaced,
    }
    this.finished = true
    clearTimeout(this.timer)
    this.resolve(res)
    this.safeDispatch('done', { result: res })
  }

  private combine(pieces: Piece[]): OpResult {
    switch (this.op) {
      case undefined:
        return pieces[0]?.accepted as OpResult
      case 'counteq':
        return pieces.reduce((s, p) => s + (p.accepted as number), 0)
      case 'crc32c':
        return (
          pieces.reduce(
            (crc, p, i) =>
              i === 0 ? (p.accepted as number) : kernels.crc32cCombine(crc, p.accepted as number, p.length),
            0,
          ) >>> 0
        )
      case 'fnv64':
        return pieces.length ? (pieces[pieces.length - 1].accepted as bigint) : kernels.FNV64_OFFSET
      case 'xor':
      case 'add':
        return this.out as Uint8Array
    }
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
    try {
      this.safeDispatchEvent(type, { detail } as never)
    } catch {
      // a listener's error must not break the job
    }
  }
}

/** The repeating key as it lines up with byte `offset` of the data: rotated, so every piece stays in phase. */
function keyAt(key: Uint8Array, offset: number): Uint8Array {
  const shift = offset % key.length
  if (shift === 0) return key
  const out = new Uint8Array(key.length)
  out.set(key.subarray(shift))
  out.set(key.subarray(0, shift), key.length - shift)
  return out
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, v))
}

/** A comparable key of a result: the value itself, or the length and FNV-1a of bytes. */
function valueKey(v: unknown): string {
  if (v instanceof Uint8Array) return `b${v.length}:${kernels.fnv64(v).toString(16)}`
  if (typeof v === 'bigint') return `n${v.toString()}`
  if (typeof v === 'number') return `n${v}`
  return `j${JSON.stringify(v)}`
}
