import * as kernels from '@peercompute/kernels'
import { prng, testSeed } from '@peercompute/kernels/testing'
import { describe, expect, it } from 'vitest'
import { RemoteTaskError } from '../../errors.js'
import { runOp } from '../../ops.js'
import { TASK_LIMITS } from './executor/limits.js'
import { Job, type JobHost } from './job.js'
import { type Candidate, POLICIES } from './policies.js'

// A peer that says it is busy (RateLimitedError, QueueFullError) is neither
// broken nor lying: the piece goes on elsewhere or later, within a bound.

const SEED = testSeed(0xb05)

function host(busyFor: (peer: string) => number, opts: { cores?: number } = {}) {
  const inflight = new Map<string, number>()
  const refusals = new Map<string, number>()
  let peak = 0
  const h: JobHost = {
    candidates: () =>
      ['a', 'b'].map(
        (id): Candidate => ({
          id,
          local: false,
          caps: {
            cores: opts.cores ?? 1,
            memoryMb: 1024,
            gpu: false,
            kernels: ['crc32c'],
            substrate: 'node',
            price: { model: 'free', usd: 0 },
          },
          load: { running: 0, queued: 0 },
          inflight: inflight.get(id) ?? 0,
          slots: Math.min(opts.cores ?? 1, 16) + 1,
          failures: 0,
        }),
      ),
    async run(c, task, _meta, signal) {
      const n = (inflight.get(c.id) ?? 0) + 1
      inflight.set(c.id, n)
      peak = Math.max(peak, n)
      try {
        await new Promise((r) => setImmediate(r))
        if (signal.aborted) throw signal.reason
        const seen = refusals.get(c.id) ?? 0
        if (seen < busyFor(c.id)) {
          refusals.set(c.id, seen + 1)
          throw new RemoteTaskError(c.id, 'RateLimitedError', 'more than 64 tasks in flight')
        }
        return {
          output: runOp('crc32c', task.input as Uint8Array, task.params),
          execMs: 1,
          wallMs: 1,
          substrate: 'node',
          costUsd: 0,
        }
      } finally {
        inflight.set(c.id, (inflight.get(c.id) ?? 1) - 1)
      }
    },
    flagLiar: () => {},
  }
  return { h, refusals, peak: () => peak }
}

describe(`Job and busy peers (SEED=${SEED})`, () => {
  it('busy refusals are not failures: more of them than maxAttempts still end in the right result', async () => {
    const { h, refusals } = host(() => 10)
    const data = prng(SEED).bytes(256 * 1024)
    const res = await new Job({ op: 'crc32c', data, pieceBytes: 64 * 1024 }, h, POLICIES.balanced).result
    expect(res.result).toBe(kernels.crc32c(data))
    expect((refusals.get('a') ?? 0) + (refusals.get('b') ?? 0)).toBeGreaterThan(4)
    expect(res.liars).toEqual([])
  })

  it('a peer that only ever says it is busy fails the job after a bounded number of refusals', async () => {
    const { h } = host(() => Number.POSITIVE_INFINITY)
    const data = prng(SEED + 1).bytes(64 * 1024)
    await expect(new Job({ op: 'crc32c', data }, h, POLICIES.balanced).result).rejects.toMatchObject({
      name: 'PeerComputeError',
    })
  })

  it('tiny pieces are never pipelined past an executor’s default in-flight limit', async () => {
    const { h, peak } = host(() => 0, { cores: 64 })
    const data = prng(SEED + 2).bytes(2000 * 64)
    const res = await new Job({ op: 'crc32c', data, pieceBytes: 64 }, h, POLICIES.balanced).result
    expect(res.result).toBe(kernels.crc32c(data))
    expect(peak()).toBeLessThanOrEqual(TASK_LIMITS.maxInflightPerPeer)
  })
})
