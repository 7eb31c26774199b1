// The Redis bridge takes whatever anyone with access to the queue LPUSHes:
// huge items, broken JSON, absurd lengths, data URLs on the bridge's own
// network, and floods. Each must give an error result (or a rejected-list
// record when there is no job id to answer), never a crash, never a fetch the
// node's URL policy refuses, and never more jobs in flight than the bound.
import { prng } from '@peercompute/kernels/testing'
import { BRIDGES_KEY, runOp } from 'peercompute'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type BridgeFixture, bridgeFixture, DATA, QUEUE, until } from '../integration/bridge-fixture.js'
import { watchUnhandled } from './attacker.js'

let f: BridgeFixture
let unhandled: ReturnType<typeof watchUnhandled>
beforeAll(async () => {
  f = await bridgeFixture()
}, 30_000)
afterAll(() => f?.stop())
beforeEach(() => {
  unhandled = watchUnhandled()
})
afterEach(async () => {
  await f.cleanup()
  unhandled.stop()
  expect(unhandled.errors).toEqual([])
})

async function started(b: ReturnType<BridgeFixture['bridge']>) {
  await b.start()
  return b
}

describe('hostile queue items', () => {
  it('huge, malformed and absurd items get error results or rejected records; the bridge goes on', async () => {
    const b = await started(f.bridge(await f.node(), 'h0'))
    const withId: Array<[string, string, RegExp]> = [
      ['long-url', f.job('long-url', { data_url: `https://example.com/?${'a'.repeat(60_000)}` }), /data_url/],
      ['proto', '{"job_id":"proto","__proto__":{"polluted":1},"program":{"op":"xor"}}', /program/],
      ['neg', f.job('neg', { length: -1 }), /length/],
      ['unsafe', f.job('unsafe', { length: 2 ** 53 + 2 }), /length/],
      ['absurd', f.job('absurd', { length: 1e12 }), /exceeds 1073741824/],
      ['offset', f.job('offset', { offset: 1e300 }), /offset/],
      ['op', f.job('op', { op: '__proto__' }), /program\.op/],
      ['imm', f.job('imm', { imm: -1 }), /imm/],
      ['loopback', f.job('loopback', {}), /data_url refused: .*loopback/],
      ['ten', f.job('ten', { data_url: 'http://10.0.0.1/x' }), /data_url refused/],
      ['metadata', f.job('metadata', { data_url: 'http://169.254.169.254/latest/meta-data/' }), /metadata/],
      ['mapped', f.job('mapped', { data_url: 'http://[::ffff:127.0.0.1]:80/x' }), /data_url refused/],
      ['file', f.job('file', { data_url: 'file:///etc/passwd' }), /scheme/],
      ['localhost', f.job('localhost', { data_url: 'http://localhost:6379/' }), /local name/],
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
    await f.db.lPush(QUEUE, [huge, ...noId, ...withId.map(([, raw]) => raw)])
    // a real job after them all, on a node that may not fetch loopback: refused too, but answered
    await f.db.lPush(QUEUE, f.job('last', {}))
    await until('the last job answered', async () => (await f.db.exists('packetfs:results:last')) === 1)

    for (const [id, , why] of withId) {
      const r = JSON.parse((await f.db.get(`packetfs:results:${id}`)) as string)
      expect(r, id).toMatchObject({ job_id: id, success: false, result_data: null, error_type: 'InvalidJobError' })
      expect(r.error, id).toMatch(why)
      expect(Number(await f.db.ttl(`packetfs:results:${id}`))).toBeGreaterThan(0)
    }
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined()
    expect(f.data.requests).toBe(0) // nothing the URL policy refuses was fetched
    const rejected = (await f.db.lRange('packetfs:jobs:rejected', 0, -1)).map((r) => JSON.parse(r))
    expect(rejected).toHaveLength(noId.length + 1)
    expect(rejected.find((r) => r.reason === 'too large')).toMatchObject({ bytes: Buffer.byteLength(huge) })
    for (const r of rejected) expect(r.head.length).toBeLessThanOrEqual(256)
    expect(await f.db.exists('packetfs:results:huge')).toBe(0)
    expect(b.stats()).toMatchObject({ rejected: noId.length + 1, failed: withId.length + 1, completed: 0 })
    expect(await f.db.lLen('packetfs:jobs:processing:h0')).toBe(0)
    expect(await f.db.lLen(QUEUE)).toBe(0)
  }, 60_000)

  it('thousands of queued jobs on two bridges sharing the queue: each within its bound, each job answered once', async () => {
    const n = await f.node({ allowPrivate: true })
    const opts = { urlPolicy: { allowPrivate: true }, concurrency: 3 }
    const bridges = [await started(f.bridge(n, 'h1', opts)), await started(f.bridge(n, 'h2', opts))]
    const rnd = prng(7)
    const jobs = Array.from({ length: 2000 }, (_, i) => {
      const offset = rnd.int(DATA.length - 4096)
      const length = 1 + rnd.int(4096)
      return { id: `flood-${i}`, offset, length, bad: i % 4 === 3 }
    })
    await f.db.lPush(
      QUEUE,
      jobs.map((j) => f.job(j.id, j.bad ? { op: 'nope' } : { offset: j.offset, length: j.length })),
    )
    let maxInFlight = 0
    let maxListed = 0
    const answered = () => bridges.reduce((s, b) => s + b.stats().completed + b.stats().failed, 0)
    await until(
      'every job answered',
      async () => {
        for (const b of bridges) maxInFlight = Math.max(maxInFlight, b.stats().inFlight)
        for (const id of ['h1', 'h2'])
          maxListed = Math.max(maxListed, Number(await f.db.lLen(`packetfs:jobs:processing:${id}`)))
        return answered() === jobs.length
      },
      240_000,
    )
    expect(maxInFlight).toBeLessThanOrEqual(3)
    expect(maxListed).toBeLessThanOrEqual(3)
    expect(maxInFlight).toBeGreaterThan(0)
    for (const b of bridges) expect(b.stats().completed).toBeGreaterThan(0) // both took from the shared queue
    expect(bridges.reduce((s, b) => s + b.stats().skipped, 0)).toBe(0)
    const docs = (await f.db.mGet(jobs.map((j) => `packetfs:results:${j.id}`))).map((d) => JSON.parse(d as string))
    for (const [i, j] of jobs.entries()) {
      if (j.bad) expect(docs[i]).toMatchObject({ success: false, error_type: 'InvalidJobError' })
      else expect(docs[i].result_data, j.id).toBe(runOp('crc32c', DATA.subarray(j.offset, j.offset + j.length)))
    }
    const metrics = Number(await f.db.lLen('packetfs:metrics'))
    expect(metrics).toBe(jobs.filter((j) => !j.bad).length) // one piece each, under the default cap
  }, 300_000)

  it('the metrics list stays within its cap', async () => {
    const b = await started(
      f.bridge(await f.node({ allowPrivate: true }), 'h3', { urlPolicy: { allowPrivate: true }, metricsCap: 5 }),
    )
    await f.db.lPush(
      QUEUE,
      Array.from({ length: 12 }, (_, i) => f.job(`m-${i}`, { length: 10 + i })),
    )
    await until('twelve jobs done', () => b.stats().completed === 12)
    expect(Number(await f.db.lLen('packetfs:metrics'))).toBe(5)
  }, 60_000)

  it('a range past the end of the data fails its job with an error result, not a hang', async () => {
    const b = await started(f.bridge(await f.node({ allowPrivate: true }), 'h8', { urlPolicy: { allowPrivate: true } }))
    await f.db.lPush(QUEUE, [f.job('past-end', { offset: DATA.length - 10, length: 1000 }), f.job('fine')])
    await until('both answered', () => b.stats().completed + b.stats().failed === 2)
    const r = JSON.parse((await f.db.get('packetfs:results:past-end')) as string)
    expect(r).toMatchObject({ success: false, result_data: null })
    expect(r.error_type).toBe('DataSourceError')
    expect(b.stats()).toMatchObject({ completed: 1, failed: 1 })
  }, 60_000)

  it('forged bridge registry entries are dropped, and a bad one does not stop the sweep', async () => {
    await f.db.sAdd(BRIDGES_KEY, ['../../etc', 'a b', 'x'.repeat(5000), 'notalist', 'orphan'])
    await f.db.set('packetfs:jobs:processing:notalist', 'a string, not a list')
    await f.db.lPush('packetfs:jobs:processing:orphan', f.job('from-orphan', { data_url: 'http://10.0.0.1/' }))
    const b = await started(f.bridge(await f.node(), 'h9', { leaseMs: 500 }))
    await until('the orphan job answered', async () => (await f.db.exists('packetfs:results:from-orphan')) === 1)
    await until('the forged ids dropped', async () => (await f.db.sMembers(BRIDGES_KEY)).join() === 'h9')
    expect(await f.db.get('packetfs:jobs:processing:notalist')).toBe('a string, not a list') // not ours to touch
    expect(b.stats().reclaimed).toBe(1)
  }, 60_000)
})
