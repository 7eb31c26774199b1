import { AbortError, PeerComputeError } from '../../../errors.js'
import { isOp } from '../../../ops.js'
import type { Job } from '../job.js'
import type { JobInit, JobSpec } from '../job-types.js'
import type { Candidate, SchedulerPolicy } from '../policies.js'
import { resultProblem } from '../result-check.js'
import {
  decodeBatch,
  encodeLeading,
  MAP_KERNEL,
  MAX_BATCH_BYTES,
  MAX_BATCH_ITEMS,
  type MapValue,
} from './batch-codec.js'
import { batchWindow, MAP_PIPELINE, medianRttMs, nextBatchItems } from './batch-size.js'
import { MapResults } from './results.js'

/** A batch as it leaves: its bytes, its items, and (a built-in's) their lengths. */
type Batch = { batch: Uint8Array; count: number; itemBytes?: number[] }

/** A map job as `node.compute.map` takes it. */
export interface MapSpec
  extends Pick<
    JobSpec,
    'requirements' | 'redundancy' | 'affinityKey' | 'maxAttempts' | 'deadlineMs' | 'includeLocal' | 'peers' | 'signal'
  > {
  /** A built-in op (each item is bytes; its result the op's) or a registered kernel (items and results JSON or bytes). */
  kernel?: string
  /**
   * Instead of `kernel`: signed code, as a bundle's bytes (published by the
   * job) or the name of one this node published (`bundle:…`). Only peers that
   * trust its publisher run it; items and results are JSON or bytes.
   */
  code?: Uint8Array | string
  /** The items, pulled only as batches can be placed. */
  inputs: Iterable<MapValue> | AsyncIterable<MapValue>
  /** The kernel's params (a built-in: `{ imm }`). */
  params?: Record<string, unknown>
  /** Default `balanced`. */
  policy?: string | SchedulerPolicy
  /** Fixed items per batch (1..65,536); without it batches are sized from the measured round trip. */
  batchItems?: number
}

/** Where one batch ran and what it cost. */
export interface BatchReport {
  index: number
  /** Index of the batch's first item in the input. */
  first: number
  count: number
  peer: string
  substrate: string
  /** The platform of the peer that ran it, as that peer advertises it (`node`, `browser`; `unknown` if it left). */
  platform: string
  attempts: number
  costUsd: number
  execMs: number
}

/** What a MapJob needs of its ComputeManager. */
export interface MapHost {
  candidates(): Candidate[]
  /** Starts a batch as a job (placement, failover, redundancy, cost and metrics are the Job's). */
  startJob(init: JobInit): Job
}

/**
 * A running map job: pulls items, batches them into `@map` tasks run as
 * Jobs, and gives the results in input order, while it runs (`for await`)
 * and at the end (`result`). At most a window of batches is in flight.
 */
export class MapJob implements AsyncIterable<MapValue> {
  /** Settles with every result in input order, or rejects with the first batch's error. */
  readonly result: Promise<MapValue[]>
  /** Reports of the finished batches, in the order they finished. */
  readonly batches: BatchReport[] = []
  private readonly spec: MapSpec
  private readonly host: MapHost
  private readonly input: Iterator<MapValue> | AsyncIterator<MapValue>
  /** An array input: its batches are encoded from it, not pulled an item at a time. */
  private readonly inputArray?: readonly MapValue[]
  /** Results in input order. */
  private readonly results = new MapResults()
  private readonly running = new Set<Job>()
  private waiters: Array<() => void> = []
  /** Items pulled that did not fit the last batch: the next one starts with them. */
  private carry: MapValue[] = []
  private pulled = 0
  private exhausted = false
  private error?: Error
  private finished = false
  private msPerItem?: number
  private lastItems?: number
  private batchCount = 0
  private kernel: string
  private kernelReady?: Promise<string>
  private resolve!: (v: MapValue[]) => void
  private reject!: (e: Error) => void

  /** `kernel`: the kernel's name, or a promise of it (signed code being published); default `spec.kernel`. */
  constructor(spec: MapSpec, host: MapHost, kernel: string | Promise<string> = spec.kernel ?? '') {
    if (spec.batchItems !== undefined && !(Number.isInteger(spec.batchItems) && spec.batchItems >= 1))
      throw new TypeError('batchItems must be an integer of at least 1')
    if ((spec.batchItems ?? 0) > MAX_BATCH_ITEMS) throw new TypeError(`batchItems is at most ${MAX_BATCH_ITEMS}`)
    const k = spec.redundancy ?? 1
    if (!Number.isInteger(k) || k < 1 || k > 16)
      throw new RangeError(`redundancy must be an integer in 1..16; got ${k}`)
    if (spec.maxAttempts !== undefined && (!Number.isInteger(spec.maxAttempts) || spec.maxAttempts < 1))
      throw new RangeError('maxAttempts must be an integer ≥ 1')
    if (spec.params !== undefined && (typeof spec.params !== 'object' || spec.params === null))
      throw new TypeError('params must be an object')
    if (typeof kernel === 'string') this.kernel = kernel
    else {
      this.kernel = ''
      this.kernelReady = kernel
      kernel.catch(() => {}) // the pump reports it
    }
    const imm = spec.params?.imm
    if (
      isOp(this.kernel) &&
      imm !== undefined &&
      (!Number.isInteger(imm) || (imm as number) < 0 || (imm as number) > 255)
    )
      throw new RangeError(`imm must be an integer in 0..255; got ${String(imm)}`)
    this.spec = spec
    this.host = host
    const src = spec.inputs as Partial<AsyncIterable<MapValue> & Iterable<MapValue>> | undefined
    const asyncIt = src?.[Symbol.asyncIterator]
    const syncIt = src?.[Symbol.iterator]
    if (Array.isArray(src)) this.inputArray = src
    if (typeof asyncIt === 'function') this.input = asyncIt.call(src)
    else if (typeof syncIt === 'function') this.input = syncIt.call(src)
    else throw new TypeError('inputs must be an iterable or an async iterable')
    this.result = new Promise((res, rej) => {
      this.resolve = res
      this.reject = rej
    })
    this.result.catch(() => {}) // a caller that only iterates must not see an unhandled rejection
    const signal = spec.signal
    if (signal?.aborted) queueMicrotask(() => this.cancel())
    else signal?.addEventListener('abort', () => this.cancel(), { once: true })
    this.pump().catch((err: Error) => this.fail(err))
  }

  /** Stops the job: running batches are cancelled on their peers, the input is closed; `result` rejects with `AbortError`. */
  cancel(): void {
    this.fail(new AbortError('the map job was cancelled'))
  }

  /** Results in input order as they become ready; throws the job's error. */
  async *[Symbol.asyncIterator](): AsyncIterator<MapValue> {
    let i = 0
    for (;;) {
      if (i < this.results.ready) {
        yield this.results.at(i++)
        continue
      }
      if (this.error) throw this.error
      if (this.finished) return
      await new Promise<void>((r) => this.waiters.push(r))
    }
  }

  private wakeAll(): void {
    const w = this.waiters
    this.waiters = []
    for (const r of w) r()
  }

  /** Pulls items and starts batches while the window has room. */
  private async pump(): Promise<void> {
    if (this.kernelReady) this.kernel = await this.kernelReady
    while (!this.finished && !this.exhausted) {
      if (this.running.size >= batchWindow(this.host.candidates())) {
        await new Promise<void>((r) => this.waiters.push(r))
        continue
      }
      const { first, batch } = await this.readBatch()
      if (this.finished) return
      if (batch) this.launch(first, batch)
    }
    this.maybeFinish()
  }

  private async readBatch(): Promise<{ first: number; batch?: Batch }> {
    const rttMs = medianRttMs(this.host.candidates())
    const want = nextBatchItems({ fixed: this.spec.batchItems, msPerItem: this.msPerItem, rttMs, last: this.lastItems })
    if (this.inputArray) return this.readFromArray(this.inputArray, want)
    const first = this.pulled - this.carry.length
    const builtin = isOp(this.kernel)
    const items = this.carry.splice(0, want)
    while (items.length < want) {
      let r = this.input.next()
      if (r instanceof Promise) r = await r // a plain iterable's items are pulled without a turn each
      if (this.finished) break
      if (r.done) {
        this.exhausted = true
        break
      }
      this.pulled++
      if (builtin) this.checkBytes(r.value, this.pulled - 1)
      items.push(r.value)
    }
    if (items.length === 0) return { first }
    const batch: Batch = encodeLeading(items, MAX_BATCH_BYTES)
    // a built-in's results are checked against its items' lengths (its items are bytes)
    if (builtin) batch.itemBytes = items.slice(0, batch.count).map((b) => (b as Uint8Array).length)
    // what did not fit starts the next batch
    if (batch.count < items.length) this.carry = items.slice(batch.count).concat(this.carry)
    return { first, batch }
  }

  /** The next batch of an array input, encoded from the array itself (no copy of its items, nothing carried over). */
  private readFromArray(arr: readonly MapValue[], want: number): { first: number; batch?: Batch } {
    const first = this.pulled
    const end = Math.min(first + want, arr.length)
    if (end <= first) {
      this.exhausted = true
      return { first }
    }
    const builtin = isOp(this.kernel)
    if (builtin) for (let i = first; i < end; i++) this.checkBytes(arr[i], i)
    const batch: Batch = encodeLeading(arr, MAX_BATCH_BYTES, first, end)
    if (builtin) batch.itemBytes = arr.slice(first, first + batch.count).map((b) => (b as Uint8Array).length)
    this.pulled += batch.count
    if (this.pulled >= arr.length) this.exhausted = true
    return { first, batch }
  }

  /** A built-in's item must be bytes: TypeError naming item `i` otherwise. */
  private checkBytes(v: MapValue, i: number): void {
    if (!(v instanceof Uint8Array)) throw new TypeError(`item ${i}: a ${this.kernel} item must be a Uint8Array`)
  }

  private launch(first: number, encoded: Batch): void {
    const index = this.batchCount++
    const { count, itemBytes } = encoded
    this.lastItems = count
    const kernel = this.kernel
    const s = this.spec
    const job = this.host.startJob({
      kernel: MAP_KERNEL,
      params: { kernel, ...(s.params ? { params: s.params } : {}) },
      needs: kernel,
      data: encoded.batch,
      checkResult: (v) => batchProblem(kernel, v, count, itemBytes),
      // a peer holds two batches a slot: one runs while the next arrives, and batches still spread over the peers
      pipeline: MAP_PIPELINE,
      ...(s.requirements ? { requirements: s.requirements } : {}),
      ...(s.redundancy ? { redundancy: s.redundancy } : {}),
      affinityKey: s.affinityKey ?? kernel,
      ...(s.maxAttempts ? { maxAttempts: s.maxAttempts } : {}),
      ...(s.deadlineMs ? { deadlineMs: s.deadlineMs } : {}),
      ...(s.includeLocal !== undefined ? { includeLocal: s.includeLocal } : {}),
      ...(s.peers ? { peers: s.peers } : {}),
    })
    this.running.add(job)
    job.result.then(
      (r) => {
        this.running.delete(job)
        if (this.finished) return
        const bytes = r.result as unknown as Uint8Array // checked by batchProblem already
        this.results.add(first, takeChecked(bytes) ?? decodeBatch(bytes, count))
        const p = r.pieces[0]
        const perItem = p.execMs / count
        this.msPerItem = this.msPerItem === undefined ? perItem : (this.msPerItem + perItem) / 2
        this.batches.push({
          index,
          first,
          count,
          peer: p.peer,
          substrate: p.substrate,
          platform: this.host.candidates().find((c) => c.id === p.peer)?.caps.substrate ?? 'unknown',
          attempts: p.attempts,
          costUsd: r.costUsd,
          execMs: p.execMs,
        })
        this.wakeAll()
        this.maybeFinish()
      },
      (err: Error) => {
        this.running.delete(job)
        this.fail(
          err instanceof AbortError || err instanceof PeerComputeError
            ? err
            : new PeerComputeError(`batch ${index}: ${err.message}`, { cause: err }),
        )
      },
    )
  }

  private maybeFinish(): void {
    if (this.finished || !this.exhausted || this.carry.length > 0 || this.running.size > 0) return
    if (this.results.ready < this.pulled) return
    this.finished = true
    this.resolve(this.results.all())
    this.wakeAll()
  }

  private fail(err: Error): void {
    if (this.finished) return
    this.finished = true
    this.error = err
    for (const j of this.running) j.cancel()
    this.running.clear()
    this.reject(err)
    this.wakeAll()
    Promise.resolve(this.input.return?.()).catch(() => {}) // close the input; its own error is not ours
  }
}

/** Batches batchProblem found right, decoded: the accepted one is then not decoded a second time. */
const checked = new WeakMap<Uint8Array, MapValue[]>()

/** The values of a batch result batchProblem found right (once), if it still holds them. */
function takeChecked(bytes: Uint8Array): MapValue[] | undefined {
  const values = checked.get(bytes)
  checked.delete(bytes)
  return values
}

/**
 * Why `value` is not the results of a batch of `kernel` over `count` items
 * (of `itemBytes` lengths: a built-in's items); undefined when it may be.
 */
export function batchProblem(
  kernel: string,
  value: unknown,
  count: number,
  itemBytes?: readonly number[],
): string | undefined {
  if (!(value instanceof Uint8Array)) return 'a map batch result must be bytes'
  let out: MapValue[]
  try {
    out = decodeBatch(value, count)
  } catch (err) {
    return (err as Error).message
  }
  if (isOp(kernel)) {
    for (let i = 0; i < out.length; i++) {
      const why = resultProblem(kernel, out[i], (itemBytes as number[])[i]) // a built-in's batch has them
      if (why) return `item ${i}: ${why}`
    }
  } // a registered kernel's results are any JSON or bytes
  checked.set(value, out)
  return undefined
}
