import * as kernels from '@peercompute/kernels'
import { prng, testSeed } from '@peercompute/kernels/testing'
import { describe, expect, it } from 'vitest'
import { DataSourceError, RemoteTaskError } from '../../errors.js'
import { runOp } from '../../ops.js'
import type { Capabilities } from '../../wire/registry.js'
import type { RangeInput } from '../range-fetch.js'
import { Job, type JobHost, type JobSpec } from './job.js'
import { type Candidate, POLICIES, pieceCostUsd } from './policies.js'

// The Job against an in-memory host: peers are functions, so placement,
// failover, votes and combining are tested without a network.

const caps = (over: Partial<Capabilities> = {}): Capabilities => ({
  cores: 1,
  memoryMb: 1024,
  gpu: false,
  kernels: ['counteq', 'crc32c', 'fnv64', 'xor', 'add'],
  substrate: 'node',
  price: { model: 'free', usd: 0 },
  ...over,
})

type Behaviour = (op: string, input: Uint8Array, params: Record<string, unknown>) => unknown

function host(peers: Record<string, { caps?: Partial<Capabilities>; run?: Behaviour; local?: boolean }>) {
  const inflight = new Map<string, number>()
  const peak = new Map<string, number>()
  const liars: string[] = []
  const reasons: string[] = []
  const calls: Array<{ peer: string; bytes: number }> = []
  const honest: Behaviour = (op, input, params) => runOp(op as never, input, params)
  const h: JobHost = {
    candidates: () =>
      Object.entries(peers).map(
        ([id, p]): Candidate => ({
          id,
          local: p.local ?? false,
          caps: caps(p.caps),
          load: { running: 0, queued: 0 },
          inflight: inflight.get(id) ?? 0,
          slots: 2,
          failures: 0,
        }),
      ),
    async run(c, task, _meta, signal) {
      inflight.set(c.id, (inflight.get(c.id) ?? 0) + 1)
      peak.set(c.id, Math.max(peak.get(c.id) ?? 0, inflight.get(c.id) ?? 0))
      try {
        await new Promise((r) => setTimeout(r, 1))
        if (signal.aborted) throw signal.reason
        const input = task.input as Uint8Array | RangeInput
        if (!(input instanceof Uint8Array)) throw new Error('no URLs here')
        calls.push({ peer: c.id, bytes: input.length })
        const output = (peers[c.id].run ?? honest)(task.op, input, task.params)
        return {
          output,
          execMs: 1,
          wallMs: 1,
          substrate: 'node',
          costUsd: pieceCostUsd(c.caps, false, input.length, 1),
        }
      } finally {
        inflight.set(c.id, (inflight.get(c.id) ?? 1) - 1)
      }
    },
    flagLiar: (peer, meta) => {
      liars.push(peer)
      reasons.push(meta.reason ?? 'mismatch')
    },
  }
  return { h, liars, reasons, calls, peak }
}

const submit = (h: JobHost, spec: Omit<JobSpec, 'policy'> & { policy?: keyof typeof POLICIES }) =>
  new Job({ ...spec, policy: undefined }, h, POLICIES[spec.policy ?? 'balanced'])

const SEED = testSeed(0x10b)

describe(`Job (in-memory peers, SEED=${SEED})`, () => {
  it('tiny jobs at once are all placed at once, past the peer slots (pipelined), not slots at a time', async () => {
    const { h, peak } = host({ p: {} })
    const data = new Uint8Array(64).fill(3)
    const jobs = Array.from({ length: 24 }, () => submit(h, { op: 'counteq', data, imm: 3 }))
    for (const j of jobs) expect((await j.result).result).toBe(64)
    // 2 slots × 16 (TINY_PIPELINE) may be in flight; sizing used to hold them to the 2 slots
    expect(peak.get('p')).toBe(24)
  })

  it('every op combines to the single-process result, over random sizes and piece sizes', async () => {
    const r = prng(SEED)
    const { h } = host({ a: {}, b: {}, c: {} })
    for (let i = 0; i < 25; i++) {
      const data = r.bytes(r.int(300_000))
      const op = (['counteq', 'crc32c', 'fnv64', 'xor', 'add'] as const)[i % 5]
      const res = await submit(h, { op, data, imm: 7, pieceBytes: 1 + r.int(70_000) }).result
      const want = runOp(op, data, { imm: 7 })
      if (want instanceof Uint8Array) expect(Buffer.compare(res.result as Uint8Array, want)).toBe(0)
      else expect(res.result).toBe(want)
    }
  })

  it('xor with a key whose length does not divide the pieces stays in phase', async () => {
    const { h } = host({ a: {}, b: {} })
    const data = prng(SEED + 1).bytes(100_000)
    const key = Uint8Array.from([1, 2, 3])
    const res = await submit(h, { op: 'xor', data, key, pieceBytes: 30_000 }).result
    expect(Buffer.compare(res.result as Uint8Array, kernels.xor(data, key))).toBe(0)
  })

  it('a failing peer: its pieces are placed again elsewhere, and the runs say so', async () => {
    const { h } = host({
      good: {},
      flaky: {
        run: () => {
          throw Object.assign(new Error('boom'), { name: 'KernelError' })
        },
      },
    })
    const data = prng(SEED + 2).bytes(200_000)
    const res = await submit(h, { op: 'crc32c', data, pieceBytes: 20_000 }).result
    expect(res.result).toBe(kernels.crc32c(data))
    expect(res.peers).toEqual(['good'])
    expect(res.replaced).toBeGreaterThan(0)
    expect(res.pieces.some((p) => p.runs.some((run) => run.peer === 'flaky' && !run.ok))).toBe(true)
  })

  it('attempts are bounded: a job whose every peer fails ends with the cause', async () => {
    const fail = () => {
      throw new Error('always')
    }
    const { h } = host({ a: { run: fail }, b: { run: fail } })
    await expect(submit(h, { op: 'counteq', data: new Uint8Array(10), maxAttempts: 3 }).result).rejects.toThrow(
      /failed 3 times.*always/,
    )
  })

  it('redundancy: a liar is outvoted and reported; with no majority the job fails with ResultMismatchError', async () => {
    const lie: Behaviour = (op, input, params) => ((runOp(op as never, input, params as never) as number) + 1) >>> 0
    const one = host({ a: {}, b: {}, liar: { run: lie } })
    const data = prng(SEED + 3).bytes(50_000)
    // the liar ranks first, so every piece runs on it and one honest peer, disagrees, and a third run decides
    const liarFirst = { name: 'liar-first', score: (c: Candidate) => (c.id === 'liar' ? 0 : 1) }
    const res = await new Job({ op: 'crc32c', data, redundancy: 2, pieceBytes: 10_000 }, one.h, liarFirst).result
    expect(res.result).toBe(kernels.crc32c(data))
    expect(res.liars).toEqual(['liar'])
    for (const p of res.pieces) {
      expect(p.runs.filter((r) => r.ok)).toHaveLength(3)
      expect(p.peer).not.toBe('liar')
    }
    const two = host({ liar1: { run: lie }, liar2: { run: () => 7 } })
    await expect(submit(two.h, { op: 'crc32c', data, redundancy: 2 }).result).rejects.toMatchObject({
      name: 'ResultMismatchError',
    })
  })

  it('requirements filter peers; none left is NoEligiblePeerError; too few for redundancy too', async () => {
    const { h, calls } = host({ small: { caps: { memoryMb: 100 } }, gpu: { caps: { gpu: true } } })
    const res = await submit(h, { op: 'counteq', data: new Uint8Array(1000), requirements: { gpu: true } }).result
    expect(res.peers).toEqual(['gpu'])
    expect(calls.every((c) => c.peer === 'gpu')).toBe(true)
    await expect(
      submit(h, { op: 'counteq', data: new Uint8Array(10), requirements: { memoryMb: 4096 } }).result,
    ).rejects.toMatchObject({ name: 'NoEligiblePeerError' })
    await expect(submit(h, { op: 'counteq', data: new Uint8Array(10), redundancy: 3 }).result).rejects.toMatchObject({
      name: 'NoEligiblePeerError',
    })
  })

  it('the only peer leaves mid-job: the job waits for it (peerGraceMs) and completes; gone for good, it fails once the grace is over', async () => {
    const data = prng(SEED + 5).bytes(8000)
    const { h } = host({ solo: {} })
    const all = h.candidates
    const run = h.run
    // the peer vanishes from the candidates after its first result, and is back after the job looked 3 times
    let gone = false
    let looks = 0
    h.candidates = () => {
      if (!gone) return all()
      if (++looks >= 3) gone = false
      return []
    }
    let ran = 0
    h.run = async (...a) => {
      const r = await run(...a)
      if (++ran === 1) gone = true
      return r
    }
    const res = await submit(h, { op: 'crc32c', data, pieceBytes: 100 }).result
    expect(res.result).toBe(runOp('crc32c', data))
    expect(looks).toBeGreaterThanOrEqual(3) // it did wait while the peer was away
    // gone for good: NoEligiblePeerError after the grace, saying when the last one left
    let left = false
    h.candidates = () => (left ? [] : all())
    h.run = async (...a) => {
      const r = await run(...a)
      left = true
      return r
    }
    await expect(submit(h, { op: 'crc32c', data, pieceBytes: 100, peerGraceMs: 300 }).result).rejects.toMatchObject({
      name: 'NoEligiblePeerError',
      message: expect.stringMatching(/the last one left \d+ ms ago/),
    })
    // with no grace, at once; and a job that never had a peer fails at once whatever the grace
    left = false
    await expect(submit(h, { op: 'crc32c', data, pieceBytes: 100, peerGraceMs: 0 }).result).rejects.toMatchObject({
      name: 'NoEligiblePeerError',
    })
    h.candidates = () => []
    await expect(submit(h, { op: 'crc32c', data }).result).rejects.toMatchObject({
      name: 'NoEligiblePeerError',
      message: "no peer runs crc32c with the job's requirements",
    })
  })

  it('a registered kernel runs as one piece on a peer that lists it, with its params; its output is the result', async () => {
    const sum: Behaviour = (_op, input, params) => ({ sum: input.reduce((a, b) => a + b, 0) + Number(params.add) })
    const { h, calls } = host({ plain: {}, owner: { caps: { kernels: ['sum'] }, run: sum } })
    const res = await new Job(
      { kernel: 'sum', data: new Uint8Array(300_000).fill(1), params: { add: 5 } },
      h,
      POLICIES.balanced,
    ).result
    expect(res.result).toEqual({ sum: 300_005 })
    expect(res.pieces).toHaveLength(1)
    expect(calls).toEqual([{ peer: 'owner', bytes: 300_000 }])
  })

  it('cancel rejects with AbortError and fires done', async () => {
    const { h } = host({ a: {} })
    const job = submit(h, { op: 'crc32c', data: new Uint8Array(1 << 20), pieceBytes: 1024 })
    let done: Error | undefined
    job.addEventListener('done', (e) => {
      done = e.detail.error
    })
    job.cancel()
    await expect(job.result).rejects.toMatchObject({ name: 'AbortError' })
    expect(done?.name).toBe('AbortError')
  })
})

describe('policies', () => {
  const base = (id: string, over: Partial<Candidate> = {}): Candidate => ({
    id,
    local: false,
    caps: caps(),
    load: { running: 0, queued: 0 },
    inflight: 0,
    slots: 2,
    failures: 0,
    ...over,
  })
  const piece = { bytes: 8 << 20, affinityKey: 'k' }
  const best = (name: keyof typeof POLICIES, cs: Candidate[]) =>
    cs.slice().sort((a, b) => POLICIES[name].score(a, piece) - POLICIES[name].score(b, piece))[0].id

  it('cheapest prefers the free peer, fastest the faster one, least-loaded the idle one', () => {
    const paid = base('paid', { caps: caps({ price: { model: 'per-gb', usd: 1 } }), throughput: 1e6 })
    const free = base('free', { throughput: 1e4 })
    expect(best('cheapest', [paid, free])).toBe('free')
    expect(best('fastest', [paid, free])).toBe('paid')
    expect(best('least-loaded', [base('busy', { inflight: 2 }), base('idle')])).toBe('idle')
  })

  it('packetfs-classic is costPerHour*100 + latency; failures lower a score', () => {
    const near = base('near', { rttMs: 1 })
    const far = base('far', { rttMs: 50 })
    expect(POLICIES['packetfs-classic'].score(near, piece)).toBeCloseTo(1)
    expect(best('packetfs-classic', [far, near])).toBe('near')
    expect(best('balanced', [base('x', { failures: 5 }), base('y')])).toBe('y')
  })

  it('sticky maps a key to the same peer whatever the order, and moves few keys when a peer leaves', () => {
    const cs = ['p1', 'p2', 'p3', 'p4'].map((id) => base(id))
    const pick = (key: string, list: Candidate[]) =>
      list
        .slice()
        .sort(
          (a, b) =>
            POLICIES.sticky.score(a, { bytes: 1, affinityKey: key }) -
            POLICIES.sticky.score(b, { bytes: 1, affinityKey: key }),
        )[0].id
    let moved = 0
    for (let i = 0; i < 400; i++) {
      const k = `key-${i}`
      expect(pick(k, cs)).toBe(pick(k, cs.slice().reverse()))
      const before = pick(k, cs)
      const after = pick(
        k,
        cs.filter((c) => c.id !== 'p4'),
      )
      if (before !== 'p4' && before !== after) moved++
    }
    expect(moved).toBe(0)
  })

  it('costs follow the price model; browsers and the local node are free', () => {
    expect(pieceCostUsd(caps({ price: { model: 'per-gb', usd: 2 } }), false, 5e8, 10)).toBeCloseTo(1)
    expect(pieceCostUsd(caps({ price: { model: 'per-hour', usd: 3.6 } }), false, 1, 1000)).toBeCloseTo(0.001)
    expect(pieceCostUsd(caps({ price: { model: 'per-invocation', usd: 0.002 } }), false, 1, 1)).toBe(0.002)
    expect(pieceCostUsd(caps({ substrate: 'browser', price: { model: 'per-gb', usd: 9 } }), false, 1e9, 1)).toBe(0)
    expect(pieceCostUsd(caps({ price: { model: 'per-gb', usd: 9 } }), true, 1e9, 1)).toBe(0)
  })
})

/** A policy that ranks `first` ahead of every other peer, so it is tried first and must be caught. */
const ranksFirst = (first: string) => ({ name: `${first}-first`, score: (c: Candidate) => (c.id === first ? 0 : 1) })

describe(`Job: results and errors from peers are checked (SEED=${SEED})`, () => {
  const malformed: Array<[string, 'xor' | 'add' | 'counteq' | 'crc32c' | 'fnv64', Behaviour]> = [
    ['a number for xor', 'xor', () => 0],
    ['short bytes for add', 'add', (_op, input) => new Uint8Array(input.length - 1)],
    ['bytes for counteq', 'counteq', (_op, input) => new Uint8Array(input.length)],
    ['a count past the piece for counteq', 'counteq', (_op, input) => input.length + 1],
    ['a fractional count for counteq', 'counteq', () => 0.5],
    ['a crc past u32', 'crc32c', () => 2 ** 32],
    ['a negative crc', 'crc32c', () => -1],
    ['a number for fnv64', 'fnv64', () => 5],
    ['a bigint past u64 for fnv64', 'fnv64', () => 1n << 64n],
    ['JSON for xor', 'xor', () => ({ bytes: [] })],
  ]
  for (const [what, op, lie] of malformed) {
    it(`${what}: counts as a lie; the piece is placed again and the result is right`, async () => {
      const { h, liars, reasons } = host({ bad: { run: lie }, good: {} })
      const data = prng(SEED + 10).bytes(40_000)
      const res = await new Job({ op, data, imm: 3, pieceBytes: 10_000 }, h, ranksFirst('bad')).result
      const want = runOp(op, data, { imm: 3 })
      if (want instanceof Uint8Array) expect(Buffer.compare(res.result as Uint8Array, want)).toBe(0)
      else expect(res.result).toBe(want)
      expect(res.liars).toEqual(['bad'])
      expect(new Set(liars)).toEqual(new Set(['bad'])) // once per piece it lied on
      expect(new Set(reasons)).toEqual(new Set(['malformed']))
      expect(res.peers).toEqual(['good'])
      const bad = res.pieces.flatMap((p) => p.runs).filter((r) => r.peer === 'bad')
      expect(bad.length).toBeGreaterThan(0)
      expect(bad.every((r) => !r.ok && r.error === 'MalformedResultError')).toBe(true)
    })
  }

  it('a peer reporting DataSourceError (or any name) is that peer failing: the job finishes elsewhere', async () => {
    for (const name of ['DataSourceError', 'PayloadTooLargeError', 'AbortError', 'ResultMismatchError']) {
      const fake: Behaviour = () => {
        throw new RemoteTaskError('bad', name, 'made up')
      }
      const { h } = host({ bad: { run: fake }, good: {} })
      const data = prng(SEED + 11).bytes(30_000)
      const res = await new Job({ op: 'crc32c', data, pieceBytes: 10_000 }, h, ranksFirst('bad')).result
      expect(res.result).toBe(kernels.crc32c(data))
      expect(res.peers).toEqual(['good'])
      const runs = res.pieces.flatMap((p) => p.runs).filter((r) => r.peer === 'bad')
      expect(runs.length).toBeGreaterThan(0)
      expect(runs.every((r) => !r.ok && r.error === 'RemoteTaskError' && r.remoteError === name)).toBe(true)
    }
  })

  it('max(2, redundancy) distinct peers reporting the same DataSourceError fail the job with it', async () => {
    const says =
      (peer: string): Behaviour =>
      () => {
        throw new RemoteTaskError(peer, 'DataSourceError', 'HTTP 404')
      }
    const two = host({ x: { run: says('x') }, y: { run: says('y') }, z: { caps: { kernels: [] } } })
    const err = await submit(two.h, { op: 'crc32c', data: new Uint8Array(100) }).result.catch((e: Error) => e)
    expect(err).toBeInstanceOf(DataSourceError)
    expect((err as Error).message).toMatch(/2 distinct peer\(s\) report DataSourceError.*HTTP 404/)
    expect((err as Error).cause).toBeInstanceOf(RemoteTaskError)
    // with redundancy 3 two peers are not enough: the piece goes to honest peers, who run it and agree
    const three = host({ x: { run: says('x') }, y: { run: says('y') }, a: {}, b: {}, c: {} })
    const data = prng(SEED + 12).bytes(1000)
    const ok = await new Job({ op: 'crc32c', data, redundancy: 3 }, three.h, {
      name: 'liars-first',
      score: (c: Candidate) => (c.id === 'x' || c.id === 'y' ? 0 : 1),
    }).result
    expect(ok.result).toBe(kernels.crc32c(data))
  })

  it('the lone eligible peer reporting DataSourceError fails the job at once (no one else could say otherwise)', async () => {
    const { h, calls } = host({
      only: {
        run: () => {
          throw new RemoteTaskError('only', 'DataSourceError', 'ignored the Range header')
        },
      },
    })
    await expect(submit(h, { op: 'counteq', data: new Uint8Array(10) }).result).rejects.toMatchObject({
      name: 'DataSourceError',
      message: expect.stringMatching(/ignored the Range/),
    })
    expect(calls).toHaveLength(1)
  })

  it("this node's own DataSourceError fails the job at once, whatever the redundancy", async () => {
    const { h } = host({
      self: {
        local: true,
        run: () => {
          throw new DataSourceError('HTTP 404')
        },
      },
      a: {},
      b: {},
    })
    const job = new Job({ op: 'crc32c', data: new Uint8Array(100), redundancy: 2 }, h, ranksFirst('self'))
    await expect(job.result).rejects.toMatchObject({ name: 'DataSourceError', message: 'HTTP 404' })
  })

  it('attempts stay bounded when every peer reports errors', async () => {
    const peers = Object.fromEntries(
      Array.from({ length: 10 }, (_, i) => [
        `p${i}`,
        {
          run: (() => {
            throw new RemoteTaskError(`p${i}`, 'KernelError', 'no')
          }) as Behaviour,
        },
      ]),
    )
    const { h, calls } = host(peers)
    await expect(submit(h, { op: 'counteq', data: new Uint8Array(10), maxAttempts: 3 }).result).rejects.toThrow(
      /failed 3 times/,
    )
    expect(calls.length).toBe(3)
  })
})
