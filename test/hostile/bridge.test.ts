// The Redis bridge takes whatever anyone with access to the queue LPUSHes:
// huge items, broken JSON, absurd lengths, data URLs on the bridge's own
// network, and floods. Each must give an error result (or a rejected-list
// record when there is no job id to answer), never a crash, never a fetch the
// node's URL policy refuses, and never more jobs in flight than the bound.
import { createServer, type Server } from 'node:http'
import { prng } from '@peercompute/kernels/testing'
import { createNode, type NodeKernel, RedisBridge, runOp } from 'peercompute'
import { createClient } from 'redis'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { TEST_PEER } from '../integration/helpers.js'
import { startRedis, type TestRedis } from '../integration/redis-server.js'
import { watchUnhandled } from './attacker.js'

const DATA = prng(0xb1d9e).bytes(256 * 1024)
const QUEUE = 'packetfs:jobs:queue'

let redis: TestRedis
let db: ReturnType<typeof createClient>
let server: Server
let dataUrl: string
let requests = 0
/** While set, data requests wait here until released. */
let held: Array<() => void> | undefined

const cleanups: Array<() => Promise<unknown> | unknown> = []
let unhandled: ReturnType<typeof watchUnhandled>

beforeAll(async () => {
  redis = await startRedis()
  db = createClient({ url: redis.url })
  db.on('error', () => {})
  await db.connect()
  server = createServer((req, res) => {
    requests++
    const answer = () => {
      const [, a, b] = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '') ?? []
      const from = Number(a ?? 0)
      const to = Math.min(Number(b ?? DATA.length - 1), DATA.length - 1)
      res.writeHead(a ? 206 : 200, {
        'content-length': to - from + 1,
        ...(a ? { 'content-range': `bytes ${from}-${to}/${DATA.length}` } : {}),
      })
      res.end(DATA.subarray(from, to + 1))
    }
    if (held) held.push(answer)
    else answer()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  dataUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/data.bin`
}, 30_000)

afterAll(async () => {
  await new Promise((r) => server?.close(r))
  if (db?.isOpen) db.destroy()
  await redis?.stop()
})

beforeEach(async () => {
  unhandled = watchUnhandled()
  await db.flushAll()
  requests = 0
})

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
  unhandled.stop()
  expect(unhandled.errors).toEqual([])
})

/** A node with no peers (its pieces run here), and bridges on it. */
async function node(urlPolicy?: { allowPrivate: boolean }): Promise<NodeKernel> {
  const n = await createNode({ ...TEST_PEER, relays: [], enableWebGPU: false, maxWorkers: 2, urlPolicy })
  await n.start()
  cleanups.push(() => n.stop())
  return n
}

async function bridge(n: NodeKernel, id: string, extra: Partial<ConstructorParameters<typeof RedisBridge>[0]> = {}) {
  const b = new RedisBridge({
    node: n,
    redisUrl: redis.url,
    bridgeId: id,
    urlPolicy: { allowPrivate: false },
    ...extra,
  })
  await b.start()
  cleanups.push(() => b.stop())
  return b
}

async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const t0 = Date.now()
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for: ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

const job = (id: string, program: Record<string, unknown>) =>
  JSON.stringify({ job_id: id, program: { op: 'crc32c', data_url: dataUrl, length: 100, ...program } })

describe('hostile queue items', () => {
  it('huge, malformed and absurd items get error results or rejected records; the bridge goes on', async () => {
    const b = await bridge(await node(), 'h0')
    const withId: Array<[string, string, RegExp]> = [
      ['long-url', job('long-url', { data_url: `https://example.com/?${'a'.repeat(60_000)}` }), /data_url/],
      ['proto', '{"job_id":"proto","__proto__":{"polluted":1},"program":{"op":"xor"}}', /program/],
      ['neg', job('neg', { length: -1 }), /length/],
      ['unsafe', job('unsafe', { length: 2 ** 53 + 2 }), /length/],
      ['absurd', job('absurd', { length: 1e12 }), /exceeds 1073741824/],
      ['offset', job('offset', { offset: 1e300 }), /offset/],
      ['op', job('op', { op: '__proto__' }), /program\.op/],
      ['imm', job('imm', { imm: -1 }), /imm/],
      ['loopback', job('loopback', {}), /data_url refused: .*loopback/],
      ['ten', job('ten', { data_url: 'http://10.0.0.1/x' }), /data_url refused/],
      ['metadata', job('metadata', { data_url: 'http://169.254.169.254/latest/meta-data/' }), /metadata/],
      ['mapped', job('mapped', { data_url: 'http://[::ffff:127.0.0.1]:80/x' }), /data_url refused/],
      ['file', job('file', { data_url: 'file:///etc/passwd' }), /scheme/],
      ['localhost', job('localhost', { data_url: 'http://localhost:6379/' }), /local name/],
    ]
    const noId = [
      'null',
      '[]',
      '"a string"',
      '12',
      '{"job_id": {"$ne": null}}',
      '{"job_id": "has space"}',
      `${'['.repeat(20_000)}${']'.repeat(20_000)}`,
      '{"job_id": "x"',
      '\u0000\uffff',
    ]
    const huge = `{"job_id":"huge","program":{"op":"crc32c","data_url":"${'h'.repeat(2 * 1024 * 1024)}"}}`
    await db.lPush(QUEUE, [huge, ...noId, ...withId.map(([, raw]) => raw)])
    // a real job after them all, on a node that may not fetch loopback: refused too, but answered
    await db.lPush(QUEUE, job('last', {}))
    await until('the last job answered', async () => (await db.exists('packetfs:results:last')) === 1)

    for (const [id, , why] of withId) {
      const r = JSON.parse((await db.get(`packetfs:results:${id}`)) as string)
      expect(r, id).toMatchObject({ job_id: id, success: false, result_data: null, error_type: 'InvalidJobError' })
      expect(r.error, id).toMatch(why)
      expect(Number(await db.ttl(`packetfs:results:${id}`))).toBeGreaterThan(0)
    }
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined()
    expect(requests).toBe(0) // nothing the URL policy refuses was fetched
    const rejected = (await db.lRange('packetfs:jobs:rejected', 0, -1)).map((r) => JSON.parse(r))
    expect(rejected).toHaveLength(noId.length + 1)
    expect(rejected.find((r) => r.reason === 'too large')).toMatchObject({ bytes: Buffer.byteLength(huge) })
    for (const r of rejected) expect(r.head.length).toBeLessThanOrEqual(256)
    expect(await db.exists('packetfs:results:huge')).toBe(0)
    expect(b.stats()).toMatchObject({ rejected: noId.length + 1, failed: withId.length + 1, completed: 0 })
    expect(await db.lLen('packetfs:jobs:processing:h0')).toBe(0)
    expect(await db.lLen(QUEUE)).toBe(0)
  }, 60_000)

  it('thousands of queued jobs on two bridges sharing the queue: each within its bound, each job answered once', async () => {
    const n = await node({ allowPrivate: true })
    const opts = { urlPolicy: { allowPrivate: true }, concurrency: 3 }
    const bridges = [await bridge(n, 'h1', opts), await bridge(n, 'h2', opts)]
    const rnd = prng(7)
    const jobs = Array.from({ length: 2000 }, (_, i) => {
      const offset = rnd.int(DATA.length - 4096)
      const length = 1 + rnd.int(4096)
      return { id: `flood-${i}`, offset, length, bad: i % 4 === 3 }
    })
    await db.lPush(
      QUEUE,
      jobs.map((j) => job(j.id, j.bad ? { op: 'nope' } : { offset: j.offset, length: j.length })),
    )
    let maxInFlight = 0
    let maxListed = 0
    const answered = () => bridges.reduce((s, b) => s + b.stats().completed + b.stats().failed, 0)
    await until(
      'every job answered',
      async () => {
        for (const b of bridges) maxInFlight = Math.max(maxInFlight, b.stats().inFlight)
        for (const id of ['h1', 'h2'])
          maxListed = Math.max(maxListed, Number(await db.lLen(`packetfs:jobs:processing:${id}`)))
        return answered() === jobs.length
      },
      240_000,
    )
    expect(maxInFlight).toBeLessThanOrEqual(3)
    expect(maxListed).toBeLessThanOrEqual(3)
    expect(maxInFlight).toBeGreaterThan(0)
    for (const b of bridges) expect(b.stats().completed).toBeGreaterThan(0) // both took from the shared queue
    expect(bridges.reduce((s, b) => s + b.stats().skipped, 0)).toBe(0)
    const docs = (await db.mGet(jobs.map((j) => `packetfs:results:${j.id}`))).map((d) => JSON.parse(d as string))
    for (const [i, j] of jobs.entries()) {
      if (j.bad) expect(docs[i]).toMatchObject({ success: false, error_type: 'InvalidJobError' })
      else expect(docs[i].result_data, j.id).toBe(runOp('crc32c', DATA.subarray(j.offset, j.offset + j.length)))
    }
    const metrics = Number(await db.lLen('packetfs:metrics'))
    expect(metrics).toBe(jobs.filter((j) => !j.bad).length) // one piece each, under the default cap
  }, 300_000)

  it('the metrics list stays within its cap', async () => {
    const b = await bridge(await node({ allowPrivate: true }), 'h3', {
      urlPolicy: { allowPrivate: true },
      metricsCap: 5,
    })
    await db.lPush(
      QUEUE,
      Array.from({ length: 12 }, (_, i) => job(`m-${i}`, { length: 10 + i })),
    )
    await until('twelve jobs done', () => b.stats().completed === 12)
    expect(Number(await db.lLen('packetfs:metrics'))).toBe(5)
  }, 60_000)
})

describe('stopping', () => {
  it('stop() gives the jobs in flight back to the queue, in order, and writes no result for them', async () => {
    const b = await bridge(await node({ allowPrivate: true }), 'h4', { urlPolicy: { allowPrivate: true } })
    held = []
    const raws = [job('s-1', { length: 1000 }), job('s-2', { length: 2000 })]
    try {
      await db.lPush(QUEUE, raws)
      await until('both jobs fetching their data', () => (held?.length ?? 0) >= 2)
      expect(await db.lLen('packetfs:jobs:processing:h4')).toBe(2)
      await b.stop()
    } finally {
      const h = held ?? []
      held = undefined
      for (const a of h) a()
    }
    expect(await db.lLen('packetfs:jobs:processing:h4')).toBe(0)
    // back at the consuming end, oldest (s-1) first to be taken again
    expect(await db.lRange(QUEUE, 0, -1)).toEqual([raws[1], raws[0]])
    expect(await db.exists(['packetfs:results:s-1', 'packetfs:results:s-2'])).toBe(0)
  }, 60_000)
})
