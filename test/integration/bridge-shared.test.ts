// Bridges sharing one Redis: stop() gives jobs back, a second bridge with a
// running bridge's id waits for its lease, the jobs of a bridge that died and
// never came back are moved back to the queue by another bridge, and a live
// bridge's jobs are never taken from it.
import { BRIDGES_KEY, leaseKey, reclaimOrphans, runOp } from 'peercompute'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { type BridgeFixture, bridgeFixture, DATA, QUEUE, until } from './bridge-fixture.js'

let f: BridgeFixture
beforeAll(async () => {
  f = await bridgeFixture()
}, 30_000)
afterAll(() => f?.stop())
afterEach(() => f.cleanup())

const OPEN = { urlPolicy: { allowPrivate: true } }
const processing = (id: string) => `packetfs:jobs:processing:${id}`

describe('bridges sharing one Redis', () => {
  it('stop() gives the jobs in flight back to the queue, in order, and writes no result for them', async () => {
    const b = f.bridge(await f.node({ allowPrivate: true }), 's1', OPEN)
    await b.start()
    f.hold()
    const raws = [f.job('s-1', { length: 1000 }), f.job('s-2', { length: 2000 })]
    await f.db.lPush(QUEUE, raws)
    await until('both jobs fetching their data', () => (f.data.held?.length ?? 0) >= 2)
    expect(await f.db.lLen(processing('s1'))).toBe(2)
    await b.stop()
    expect(await f.db.lLen(processing('s1'))).toBe(0)
    // back at the consuming end, oldest (s-1) first to be taken again
    expect(await f.db.lRange(QUEUE, 0, -1)).toEqual([raws[1], raws[0]])
    expect(await f.db.exists(['packetfs:results:s-1', 'packetfs:results:s-2'])).toBe(0)
    expect(await f.db.exists(leaseKey('s1'))).toBe(0) // released, not left to lapse
  }, 60_000)

  it('a second bridge with a running bridge’s id waits for its lease', async () => {
    const node = await f.node({ allowPrivate: true })
    const first = f.bridge(node, 'same', OPEN)
    await first.start()
    const lines: string[] = []
    const second = f.bridge(node, 'same', { ...OPEN, log: (l) => lines.push(l) })
    let started = false
    const starting = second.start().then(() => {
      started = true
    })
    await until('the second bridge waiting', () => lines.some((l) => /is leased by a running bridge/.test(l)))
    expect(started).toBe(false)
    await first.stop()
    await starting
    expect(started).toBe(true)
    await f.db.lPush(QUEUE, f.job('after-handover'))
    await until('the job run by the second', () => second.stats().completed === 1)
  }, 60_000)

  it('the jobs of a bridge that died and never came back are run by another bridge', async () => {
    // what a SIGKILLed bridge "ghost" leaves: its id registered, a job in its list, its lease lapsed
    const raw = f.job('orphan-1', { offset: 10, length: 5000 })
    await f.db.sAdd(BRIDGES_KEY, 'ghost')
    await f.db.lPush(processing('ghost'), raw)
    const b = f.bridge(await f.node({ allowPrivate: true }), 'alive', { ...OPEN, leaseMs: 1000 })
    await b.start()
    await until('the orphan answered', async () => (await f.db.exists('packetfs:results:orphan-1')) === 1)
    const r = JSON.parse((await f.db.get('packetfs:results:orphan-1')) as string)
    expect(r).toMatchObject({ success: true, result_data: runOp('crc32c', DATA.subarray(10, 5010)) })
    expect(b.stats().reclaimed).toBe(1)
    expect(await f.db.lLen(processing('ghost'))).toBe(0)
    expect(await f.db.sIsMember(BRIDGES_KEY, 'ghost')).toBe(0) // nothing left of it: unregistered
  }, 60_000)

  it('a live bridge’s jobs are not reclaimed', async () => {
    const b = f.bridge(await f.node({ allowPrivate: true }), 'busy', OPEN)
    await b.start()
    f.hold()
    const raw = f.job('held-1')
    await f.db.lPush(QUEUE, raw)
    await until('the job in flight', () => (f.data.held?.length ?? 0) >= 1)
    expect(await reclaimOrphans(f.db as never, { queue: QUEUE, processing, self: 'other' })).toEqual([])
    expect(await f.db.lRange(processing('busy'), 0, -1)).toEqual([raw])
    expect(await f.db.sIsMember(BRIDGES_KEY, 'busy')).toBe(1)
    f.release()
    await until('the job done', () => b.stats().completed === 1)
    expect(await f.db.lLen(processing('busy'))).toBe(0)
  }, 60_000)

  it('two items with one job id in flight at once run once', async () => {
    const b = f.bridge(await f.node({ allowPrivate: true }), 'dup', { ...OPEN, concurrency: 4 })
    await b.start()
    f.hold()
    const raw = f.job('twice', { length: 777 })
    await f.db.lPush(QUEUE, [raw, raw])
    await until('both taken', async () => Number(await f.db.lLen(processing('dup'))) === 2)
    f.release()
    await until('both answered', () => b.stats().completed + b.stats().skipped === 2)
    expect(b.stats()).toMatchObject({ completed: 1, skipped: 1 })
    expect(await f.db.lLen(processing('dup'))).toBe(0)
    expect(Number(await f.db.lLen('packetfs:metrics'))).toBe(1)
  }, 60_000)
})
