import { setTimeout as sleep } from 'node:timers/promises'
import { createClient } from 'redis'
import { resolveUrlPolicy, type UrlPolicy } from '../../core/compute/url-policy.js'
import { InvalidOptionError } from '../../core/errors.js'
import type { NodeKernel } from '../../core/kernel/node-kernel.js'
import { type BridgeJob, type JobLimits, parseJob } from './job.js'
import { BRIDGE_ID, BridgeLease, reclaimOrphans } from './lease.js'
import { queueKeys, type Redis, ReliableQueue } from './queue.js'
import {
  type BridgeResult,
  errorResult,
  hasResult,
  pieceMetric,
  pushMetric,
  successResult,
  writeResult,
} from './results.js'

/** Options of a RedisBridge; every bound has a default. */
export interface RedisBridgeOptions {
  /** A started node: jobs run on its mesh. The bridge does not stop it. */
  node: NodeKernel
  /** `redis://host:port[/db]`. */
  redisUrl: string
  /** Names this bridge's processing list; a restarted bridge with the same id re-queues what its previous life left. */
  bridgeId: string
  /** The node's URL policy: data URLs it refuses are refused before any piece is placed. */
  urlPolicy?: UrlPolicy
  /** Jobs in flight at once (default 4). */
  concurrency?: number
  /** Seconds a result key lives (default 86,400). */
  resultTtlS?: number
  /** Length `packetfs:metrics` is trimmed to (default 10,000). */
  metricsCap?: number
  /** Longest range a job may name, bytes (default 1 GiB). */
  maxLength?: number
  /** Largest xor/add output written to Redis, bytes (default 16 MiB). */
  maxOutputBytes?: number
  /** Largest queued item read, bytes (default 64 KiB); larger ones are dropped inside Redis. */
  maxItemBytes?: number
  /** Length `packetfs:jobs:rejected` is trimmed to (default 1,000). */
  rejectedCap?: number
  /** A job still running after this long fails with an error result, ms (default 1 h). */
  jobTimeoutMs?: number
  /**
   * The bridge's lease on its id, ms (default 15,000): renewed every third of
   * it; a bridge started with the id of a running one waits for it; and the
   * processing list of a bridge whose lease lapsed (killed, not restarted) is
   * moved back to the queue by the others, checked this often.
   */
  leaseMs?: number
  /** Run pieces on the bridge's own node too (default true). */
  includeLocal?: boolean
  /** One line per event (taken, done, refused, recovered); default none. */
  log?: (line: string) => void
}

/** What a bridge has done since it started. */
export interface BridgeStats {
  recovered: number
  completed: number
  failed: number
  /** Jobs that already had a result and were not run again. */
  skipped: number
  /** Items that were not jobs (no readable job id, or too large). */
  rejected: number
  /** Items moved back to the queue from other bridges' lists (bridges whose lease lapsed). */
  reclaimed: number
  inFlight: number
}

function bound(name: string, value: number | undefined, dflt: number): number {
  const n = value ?? dflt
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidOptionError(`${name} must be a whole number ≥ 1`)
  return n
}

/**
 * The Redis queue bridge: takes the original system's jobs from
 * `packetfs:jobs:queue` (BLMOVE into its own processing list), runs each on
 * the node's mesh, writes `packetfs:results:<job_id>` with a TTL, pushes
 * per-piece records to the capped `packetfs:metrics`, then LREMs the item.
 * A job whose result exists is never run again; a job of a bridge that died
 * is re-queued when a bridge with its id starts; stop() re-queues what is
 * in flight.
 */
export class RedisBridge {
  readonly bridgeId: string
  private readonly o: RedisBridgeOptions
  private readonly limits: JobLimits
  private readonly concurrency: number
  private readonly ttlS: number
  private readonly metricsCap: number
  private readonly jobTimeoutMs: number
  private readonly client: Redis
  private readonly blocking: Redis
  private readonly queue: ReliableQueue
  private readonly inflight = new Set<Promise<void>>()
  private readonly halt = new AbortController()
  private readonly counts: Omit<BridgeStats, 'inFlight'> = {
    recovered: 0,
    completed: 0,
    failed: 0,
    skipped: 0,
    rejected: 0,
    reclaimed: 0,
  }
  private readonly lease: BridgeLease
  private readonly leaseMs: number
  /** Jobs running here by id: a second item with a running job's id waits for it, then finds its result. */
  private readonly running = new Map<string, Promise<unknown>>()
  private loop?: Promise<void>
  private sweeper?: ReturnType<typeof setInterval>
  private sweeping = false
  private started = false
  private stopped = false

  constructor(o: RedisBridgeOptions) {
    if (!BRIDGE_ID.test(o.bridgeId))
      throw new InvalidOptionError('bridgeId must be 1 to 64 letters, digits, _ . : or -')
    this.o = o
    this.bridgeId = o.bridgeId
    this.concurrency = bound('concurrency', o.concurrency, 4)
    this.ttlS = bound('resultTtlS', o.resultTtlS, 86_400)
    this.metricsCap = bound('metricsCap', o.metricsCap, 10_000)
    this.jobTimeoutMs = bound('jobTimeoutMs', o.jobTimeoutMs, 3_600_000)
    this.leaseMs = bound('leaseMs', o.leaseMs, 15_000)
    if (this.leaseMs < 300) throw new InvalidOptionError('leaseMs must be at least 300')
    this.limits = {
      maxLength: bound('maxLength', o.maxLength, 2 ** 30),
      maxOutputBytes: bound('maxOutputBytes', o.maxOutputBytes, 16 * 2 ** 20),
      urlPolicy: resolveUrlPolicy(o.urlPolicy),
    }
    // a Redis that is down errors on every reconnect attempt: one line per distinct error per 10 s
    const said = new Map<string, number>()
    const log = (what: string) => (err: Error) => {
      const line = `redis ${what}: ${err.message}`
      if (Date.now() - (said.get(line) ?? 0) < 10_000) return
      if (said.size > 100) said.clear()
      said.set(line, Date.now())
      this.log(line)
    }
    this.client = createClient({
      url: o.redisUrl,
      socket: { reconnectStrategy: (retries: number) => Math.min(100 * 2 ** retries, 5000) },
    }) as Redis
    this.client.on('error', log('error'))
    this.blocking = this.client.duplicate() as Redis
    this.blocking.on('error', log('error (blocking connection)'))
    this.queue = new ReliableQueue({
      client: this.client,
      blocking: this.blocking,
      keys: queueKeys(o.bridgeId),
      maxItemBytes: bound('maxItemBytes', o.maxItemBytes, 64 * 1024),
      rejectedCap: bound('rejectedCap', o.rejectedCap, 1000),
    })
    this.lease = new BridgeLease(this.client, o.bridgeId, this.leaseMs)
  }

  /**
   * Connects, takes the lease on the bridge id (waiting while another running
   * bridge holds it), re-queues what a previous life of this bridge left in
   * flight, and starts taking jobs and sweeping the lists of lapsed bridges.
   */
  async start(): Promise<void> {
    if (this.started || this.stopped) throw new InvalidOptionError('a bridge starts once')
    this.started = true
    try {
      await this.client.connect()
      await this.blocking.connect()
      await this.lease.acquire(this.halt.signal, (ttl) =>
        this.log(
          `bridge id ${this.bridgeId} is leased by a running bridge, or a killed one's lease runs ${ttl} ms more; waiting`,
        ),
      )
      this.lease.keep((err) =>
        this.log(
          `lease ${this.lease.key} ${err ? `not renewed: ${err.message}` : 'was lost (a stall past it?); taking it again'}`,
        ),
      )
      this.counts.recovered = await this.queue.recover()
    } catch (err) {
      // no reconnecting client or renewal timer may outlive a failed start
      this.lease.stopKeeping()
      for (const c of [this.client, this.blocking]) if (c.isOpen) c.destroy()
      throw err
    }
    if (this.counts.recovered) this.log(`re-queued ${this.counts.recovered} job(s) a previous run left in flight`)
    this.loop = this.run().catch((err: Error) => this.log(`queue loop ended: ${err.message}`))
    this.sweep()
    this.sweeper = setInterval(() => this.sweep(), this.leaseMs)
  }

  /**
   * Stops taking jobs, gives those in flight up to `graceMs` to finish, then
   * aborts the rest and moves them back to the queue; closes both connections.
   */
  async stop(graceMs = 0): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    clearInterval(this.sweeper)
    if (!this.loop) {
      this.halt.abort() // a start() under way gives up (and closes what it opened)
      return
    }
    // a BLMOVE under way is cut off; if Redis moved an item meanwhile, the re-queue below takes it back
    this.blocking.destroy()
    if (graceMs > 0 && this.inflight.size) {
      const t = new AbortController()
      await Promise.race([Promise.allSettled(this.inflight), sleep(graceMs, undefined, { signal: t.signal })]).catch(
        () => {},
      )
      t.abort()
    }
    this.halt.abort()
    await Promise.allSettled(this.inflight)
    await this.loop
    try {
      const n = await this.queue.recover()
      if (n) this.log(`stopping: re-queued ${n} job(s) in flight`)
    } catch (err) {
      this.log(`stopping: could not re-queue (a bridge with id ${this.bridgeId} will): ${(err as Error).message}`)
    }
    await this.lease.release().catch(() => {}) // else it lapses by itself
    this.client.destroy()
  }

  /** Counts since start, and the jobs in flight now. */
  stats(): BridgeStats {
    return { ...this.counts, inFlight: this.inflight.size }
  }

  /** Moves back the jobs of bridges whose lease lapsed; one sweep at a time, never rejects. */
  private sweep(): void {
    if (this.sweeping || this.stopped) return
    this.sweeping = true
    reclaimOrphans(this.client, {
      queue: this.queue.keys.queue,
      processing: (id) => queueKeys(id).processing,
      self: this.bridgeId,
    })
      .then((moved) => {
        for (const m of moved) {
          this.counts.reclaimed += m.moved
          this.log(`re-queued ${m.moved} job(s) of bridge ${m.bridgeId}, which holds no lease`)
        }
      })
      .catch((err: Error) => this.log(`sweeping lapsed bridges: ${err.message}`))
      .finally(() => {
        this.sweeping = false
      })
  }

  private log(line: string): void {
    this.o.log?.(line)
  }

  /** Takes items while a slot is free; each runs in its own promise that never rejects. */
  private async run(): Promise<void> {
    while (!this.halt.signal.aborted && !this.stopped) {
      if (this.inflight.size >= this.concurrency) {
        await Promise.race(this.inflight)
        continue
      }
      let item: Awaited<ReturnType<ReliableQueue['take']>>
      try {
        item = await this.queue.take()
      } catch (err) {
        if (this.stopped) return
        this.log(`taking a job failed: ${(err as Error).message}; retrying in 1 s`)
        await sleep(1000, undefined, { signal: this.halt.signal }).catch(() => {})
        continue
      }
      if (item === undefined) continue
      if (typeof item !== 'string') {
        this.counts.rejected++
        this.log(`dropped a queued item of ${item.oversize} bytes (too large)`)
        continue
      }
      const p: Promise<void> = this.handle(item)
        .catch((err: Error) => this.log(`a job stays in ${this.queue.keys.processing}: ${err.message}`))
        .finally(() => this.inflight.delete(p))
      this.inflight.add(p)
    }
  }

  /** One queued item, from parsing to LREM. Redis errors reject (the item then stays in the processing list). */
  private async handle(item: string): Promise<void> {
    const parsed = parseJob(item, this.limits)
    if (!parsed.ok) {
      if (parsed.jobId === undefined) {
        this.counts.rejected++
        this.log(`rejected a queued item: ${parsed.error.message}`)
        const record = { reason: parsed.error.message, bytes: Buffer.byteLength(item), head: item.slice(0, 256) }
        await this.retrying('recording a rejected item', () => this.queue.reject(item, record))
        return
      }
      this.counts.failed++
      this.log(`job ${parsed.jobId} refused: ${parsed.error.message}`)
      const doc = errorResult(parsed.jobId, parsed.error)
      await this.retrying('writing a result', () => writeResult(this.client, doc, this.ttlS))
      await this.retrying('LREM', () => this.queue.ack(item))
      return
    }
    const job = parsed.job
    const same = this.running.get(job.jobId)
    if (same) await same.catch(() => {})
    const mine = this.finish(item, job)
    this.running.set(job.jobId, mine)
    try {
      await mine
    } finally {
      if (this.running.get(job.jobId) === mine) this.running.delete(job.jobId)
    }
  }

  /** A parsed job: skipped if answered already, else run, answered and LREMed. */
  private async finish(item: string, job: BridgeJob): Promise<void> {
    if (await this.retrying('EXISTS', () => hasResult(this.client, job.jobId))) {
      this.counts.skipped++
      this.log(`job ${job.jobId} already has a result; not run again`)
      await this.retrying('LREM', () => this.queue.ack(item))
      return
    }
    const result = await this.execute(job)
    if (result === undefined) return // stopping: the item stays in the processing list and stop() re-queues it
    const wrote = await this.retrying('writing a result', () => writeResult(this.client, result, this.ttlS))
    await this.retrying('LREM', () => this.queue.ack(item))
    if (result.success) this.counts.completed++
    else this.counts.failed++
    this.log(
      `job ${job.jobId} done: ${result.success ? `${job.op} = ${result.result_data}` : `failed: ${result.error_type}: ${result.error}`}` +
        `${wrote ? '' : ' (a result was already written; kept that one)'}`,
    )
  }

  /**
   * Retries a Redis write through a short outage (about 40 s in all), so a
   * finished job is not stranded in the processing list until a restart.
   * Gives up at once when the bridge stops: stop() re-queues the item, and
   * the result check keeps a job whose result was written from running again.
   */
  private async retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let i = 0; ; i++) {
      try {
        return await fn()
      } catch (err) {
        if (this.halt.signal.aborted || i >= 8) throw err
        this.log(`${what} failed (${(err as Error).message}); retrying`)
        await sleep(Math.min(250 * 2 ** i, 10_000), undefined, { signal: this.halt.signal }).catch(() => {})
      }
    }
  }

  /** Runs a job on the mesh; its pieces' metrics are pushed as they finish. Undefined when the bridge is stopping. */
  private async execute(job: BridgeJob): Promise<BridgeResult | undefined> {
    const t0 = performance.now()
    const signal = AbortSignal.any([this.halt.signal, AbortSignal.timeout(this.jobTimeoutMs)])
    let metrics = Promise.resolve()
    let result: BridgeResult
    try {
      const run = this.o.node.compute.submit({
        op: job.op,
        data: { url: job.url, offset: job.offset, length: job.length },
        imm: job.imm,
        requirements: { memoryMb: job.memoryMb, maxDurationS: job.maxDurationS },
        includeLocal: this.o.includeLocal ?? true,
        signal,
      })
      this.log(`job ${job.jobId} running: ${job.op} over ${job.length} bytes`)
      run.addEventListener('piece', (e) => {
        const record = pieceMetric(job.jobId, job.op, e.detail)
        metrics = metrics
          .then(() => pushMetric(this.client, record, this.metricsCap))
          .catch((err: Error) => this.log(`metrics of ${job.jobId}: ${err.message}`))
      })
      result = successResult(job.jobId, job.op, await run.result)
    } catch (err) {
      if (this.halt.signal.aborted) return undefined
      const e = err instanceof Error ? err : new Error(String(err))
      result = errorResult(job.jobId, e, { executionTimeMs: performance.now() - t0, op: job.op })
    }
    await metrics
    return result
  }
}
