import * as kernels from '@peercompute/kernels'
import { prng, testSeed } from '@peercompute/kernels/testing'
import { describe, expect, it } from 'vitest'
import { RemoteTaskError } from '../../errors.js'
import { runOp } from '../../ops.js'
import type { ContentPin, RangeInput } from '../range-fetch.js'
import { Job, type JobHost } from './job.js'
import { type Candidate, POLICIES } from './policies.js'

// Content pinning in a Job, against an in-memory "URL" whose content has a
// version (a strong ETag): every accepted piece must have read one version.

const SEED = testSeed(0x919)

function urlHost(peers: string[], opts: { lie?: string } = {}) {
  const file = { etag: '"v1"', bytes: prng(SEED).bytes(1 << 20) }
  const pins: Array<ContentPin | undefined> = []
  const inflight = new Map<string, number>()
  const h: JobHost = {
    candidates: () =>
      peers.map(
        (id): Candidate => ({
          id,
          local: false,
          caps: {
            cores: 1,
            memoryMb: 1024,
            gpu: false,
            kernels: ['crc32c'],
            substrate: 'node',
            price: { model: 'free', usd: 0 },
          },
          load: { running: 0, queued: 0 },
          inflight: inflight.get(id) ?? 0,
          slots: 1,
          failures: 0,
        }),
      ),
    async run(c, task, _meta, signal) {
      inflight.set(c.id, (inflight.get(c.id) ?? 0) + 1)
      try {
        return await read(c, task.input as RangeInput, task.params, signal)
      } finally {
        inflight.set(c.id, (inflight.get(c.id) ?? 1) - 1)
      }
    },
    flagLiar: () => {},
  }
  async function read(c: Candidate, range: RangeInput, params: Record<string, unknown>, signal: AbortSignal) {
    await new Promise((r) => setImmediate(r))
    if (signal.aborted) throw signal.reason
    pins.push(range.pin)
    // an honest executor sends the pin as If-Match: another version is a 412
    if (range.pin && range.pin.etag !== file.etag)
      throw new RemoteTaskError(c.id, 'DataSourceError', 'the data source could not be read')
    const bytes = file.bytes.subarray(range.offset, range.offset + range.length)
    const etag = c.id === opts.lie ? '"forged"' : file.etag
    return {
      output: runOp('crc32c', bytes, params),
      execMs: 1,
      wallMs: 1,
      substrate: 'node',
      costUsd: 0,
      validator: { etag },
    }
  }
  return { h, file, pins }
}

const job = (h: JobHost, redundancy = 1) =>
  new Job(
    { op: 'crc32c', data: { url: 'https://data.example/blob', length: 1 << 20 }, pieceBytes: 128 * 1024, redundancy },
    h,
    POLICIES.balanced,
  )

describe(`Job content pinning (SEED=${SEED})`, () => {
  it('pins the version the first accepted piece read and sends it with every later piece', async () => {
    const { h, file, pins } = urlHost(['a', 'b'])
    const res = await job(h).result
    expect(res.result).toBe(kernels.crc32c(file.bytes))
    expect(pins.filter((p) => p?.etag === '"v1"').length).toBeGreaterThan(0)
    // once pinned, never unpinned
    const first = pins.findIndex((p) => p !== undefined)
    expect(pins.slice(first).every((p) => p?.etag === '"v1"')).toBe(true)
  })

  it('a file replaced mid-job fails the job with DataSourceError, never a mixed result', async () => {
    const { h, file } = urlHost(['a', 'b', 'c'])
    const j = job(h)
    let pieces = 0
    j.addEventListener('piece', () => {
      if (++pieces === 3) {
        file.etag = '"v2"'
        file.bytes = prng(SEED + 1).bytes(1 << 20)
      }
    })
    await expect(j.result).rejects.toMatchObject({ name: 'DataSourceError' })
  })

  it('a peer that reports another version is outvoted like a wrong value', async () => {
    const { h, file } = urlHost(['a', 'b', 'liar'], { lie: 'liar' })
    const j = new Job(
      {
        op: 'crc32c',
        data: { url: 'https://data.example/blob', length: 1 << 20 },
        pieceBytes: 256 * 1024,
        redundancy: 2,
      },
      h,
      { name: 'liar-first', score: (c: Candidate) => (c.id === 'liar' ? 0 : 1) },
    )
    const res = await j.result
    expect(res.result).toBe(kernels.crc32c(file.bytes))
    expect(res.liars).toEqual(['liar'])
  })
})
