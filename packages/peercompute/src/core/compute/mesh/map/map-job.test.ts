import { prng, testSeed } from '@peercompute/kernels/testing'
import { describe, expect, it } from 'vitest'
import { AbortError } from '../../../errors.js'
import { runOp } from '../../../ops.js'
import type { Capabilities } from '../../../wire/registry.js'
import { Job } from '../job.js'
import type { JobHost } from '../job-types.js'
import { type Candidate, POLICIES } from '../policies.js'
import { decodeBatch, encodeValues } from './batch-codec.js'
import { MapJob, type MapSpec } from './map-job.js'
import { mapBatchParams, runBatch } from './run-batch.js'

// MapJob over real Jobs and an in-memory host: peers are functions that run
// a batch (or lie about it), with random delays so batches finish out of order.

const SEED = testSeed(0x3a7)
const inc = (x: unknown) => (x as number) + 1

type Peer = { lie?: (out: Uint8Array, input: Uint8Array) => Uint8Array; fail?: boolean; delay?: () => number }

function host(peers: Record<string, Peer>) {
  const inflight = new Map<string, number>()
  const liars: string[] = []
  const aborted: string[] = []
  let runs = 0
  const caps: Capabilities = {
    cores: 1,
    memoryMb: 1024,
    gpu: false,
    kernels: ['counteq', 'crc32c', 'fnv64', 'xor', 'add', 'inc'],
    substrate: 'node',
    price: { model: 'free', usd: 0 },
  }
  const h: JobHost = {
    candidates: () =>
      Object.keys(peers).map(
        (id): Candidate => ({
          id,
          local: false,
          caps,
          load: { running: 0, queued: 0 },
          inflight: inflight.get(id) ?? 0,
          slots: 2,
          failures: 0,
        }),
      ),
    async run(c, task, _meta, signal) {
      inflight.set(c.id, (inflight.get(c.id) ?? 0) + 1)
      runs++
      try {
        const p = peers[c.id]
        await new Promise<void>((res, rej) => {
          const t = setTimeout(res, p.delay?.() ?? 1)
          signal.addEventListener('abort', () => {
            clearTimeout(t)
            aborted.push(c.id)
            rej(new AbortError('stopped'))
          })
        })
        if (p.fail) throw Object.assign(new Error('gone'), { name: 'PeerUnavailableError' })
        const { kernel, params } = mapBatchParams(task.params)
        const input = task.input as Uint8Array
        const one =
          kernel === 'inc' ? inc : (item: unknown) => runOp(kernel as never, item as Uint8Array, params as never)
        let output = await runBatch(input.slice(), one)
        if (p.lie) output = p.lie(output, input)
        return { output, execMs: 1, wallMs: 1, substrate: 'node', costUsd: 0 }
      } finally {
        inflight.set(c.id, (inflight.get(c.id) ?? 1) - 1)
        // as the ComputeManager does: a freed slot wakes a job waiting for one
        queueMicrotask(() => {
          for (const j of jobs) if (j.starved && j.wake()) break
        })
      }
    },
    flagLiar: (peer) => liars.push(peer),
  }
  const jobs = new Set<Job>()
  const map = (spec: MapSpec) =>
    new MapJob(spec, {
      candidates: () => h.candidates(),
      startJob: (init) => {
        const j = new Job(init, h, POLICIES.balanced)
        jobs.add(j)
        j.addEventListener('done', () => jobs.delete(j), { once: true })
        return j
      },
    })
  return { map, liars, aborted, runs: () => runs }
}

const count = (n: number) => Array.from({ length: n }, (_, i) => i)

describe(`MapJob (in-memory peers, SEED=${SEED})`, () => {
  it('results come in input order, as an iterator and as an array, with batches finishing out of order', async () => {
    const r = prng(SEED)
    const { map } = host({ a: { delay: () => r.int(8) }, b: { delay: () => r.int(8) }, c: {} })
    const job = map({ kernel: 'inc', inputs: count(3000), batchItems: 37 })
    const seen: unknown[] = []
    for await (const v of job) seen.push(v)
    expect(seen).toEqual(count(3000).map(inc))
    expect(await job.result).toEqual(seen)
    expect(new Set(job.batches.map((b) => b.peer)).size).toBeGreaterThan(1)
    expect(job.batches.reduce((s, b) => s + b.count, 0)).toBe(3000)
  })

  it('sizes batches automatically and runs a built-in per item (bytes in, the op result out)', async () => {
    const r = prng(SEED + 1)
    const items = Array.from({ length: 500 }, () => r.bytes(r.int(40)))
    const { map } = host({ a: {}, b: {} })
    const out = await map({ kernel: 'counteq', inputs: items, params: { imm: 3 } }).result
    expect(out).toEqual(items.map((x) => runOp('counteq', x, { imm: 3 })))
    const xs = await map({ kernel: 'xor', inputs: items, params: { imm: 9 } }).result
    expect(xs).toEqual(items.map((x) => runOp('xor', x.slice(), { imm: 9 })))
  })

  it('a failing peer: its batches go elsewhere', async () => {
    const { map } = host({ good: {}, gone: { fail: true } })
    const job = map({ kernel: 'inc', inputs: count(400), batchItems: 10 })
    expect(await job.result).toEqual(count(400).map(inc))
    expect(job.batches.every((b) => b.peer === 'good')).toBe(true)
  })

  it('redundancy votes per batch: a peer with wrong values is outvoted, one with a wrong count is caught', async () => {
    const wrong = (out: Uint8Array) => encodeValues(decodeBatch(out).map((v) => (v as number) + 100))
    const short = (out: Uint8Array) => encodeValues(decodeBatch(out).slice(1))
    const a = host({ a: {}, b: {}, liar: { lie: wrong } })
    const j1 = a.map({ kernel: 'inc', inputs: count(300), batchItems: 20, redundancy: 2 })
    expect(await j1.result).toEqual(count(300).map(inc))
    expect(a.liars).toContain('liar')
    const b = host({ a: {}, b: {}, liar: { lie: short } })
    const j2 = b.map({ kernel: 'inc', inputs: count(300), batchItems: 20 })
    expect(await j2.result).toEqual(count(300).map(inc))
    expect(b.liars).toContain('liar')
    expect(j2.batches.every((x) => x.peer !== 'liar')).toBe(true)
  })

  it('cancelling stops running batches on their peers and ends the iterator with AbortError', async () => {
    const { map, aborted, runs } = host({ a: { delay: () => 10_000 }, b: { delay: () => 10_000 } })
    const ac = new AbortController()
    const job = map({ kernel: 'inc', inputs: count(1000), batchItems: 10, signal: ac.signal })
    const it = job[Symbol.asyncIterator]()
    const first = it.next()
    while (runs() === 0) await new Promise((r) => setImmediate(r)) // until a batch is running on a peer
    ac.abort()
    await expect(job.result).rejects.toBeInstanceOf(AbortError)
    await expect(first).rejects.toBeInstanceOf(AbortError)
    expect(aborted.length).toBeGreaterThan(0)
  })

  it('an async input is pulled only as batches can be placed', async () => {
    let pulled = 0
    let maxAhead = 0
    let done = 0
    async function* source() {
      for (let i = 0; i < 2000; i++) {
        pulled++
        maxAhead = Math.max(maxAhead, pulled - done)
        yield i
      }
    }
    const { map } = host({ a: { delay: () => 3 }, b: { delay: () => 3 } })
    const job = map({ kernel: 'inc', inputs: source(), batchItems: 10 })
    const seen: unknown[] = []
    for await (const v of job) {
      seen.push(v)
      done++
    }
    expect(seen).toEqual(count(2000).map(inc))
    // the window: twice the 4 slots, 10 items each, and the batch being read
    expect(maxAhead).toBeLessThanOrEqual(9 * 10)
  })

  it('bad input is refused with a typed error', async () => {
    const { map } = host({ a: {} })
    await expect(map({ kernel: 'counteq', inputs: [1, 2] }).result).rejects.toThrow(/must be a Uint8Array/)
    expect(() => map({ kernel: 'inc', inputs: 5 as never })).toThrow(TypeError)
    expect(() => map({ kernel: 'inc', inputs: [], redundancy: 0 })).toThrow(RangeError)
    expect(() => map({ kernel: 'inc', inputs: [], batchItems: 1.5 })).toThrow(TypeError)
    expect(() => map({ kernel: 'counteq', inputs: [], params: { imm: 256 } })).toThrow(RangeError)
  })
})
