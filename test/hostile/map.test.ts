// Map batches answered with lies: an attacking executor claims every kernel,
// ranks first for the honest submitter's map job, and answers each `@map`
// batch with the wrong number of results, results of the wrong type, or bytes
// that are no batch at all. The map job must still give every result in
// order, no batch may be accepted from the attacker, the attacker must be
// flagged, and nothing may go unhandled.

import * as kernels from '@peercompute/kernels'
import { prng } from '@peercompute/kernels/testing'
import { type Candidate, encodeTaskMessage, encodeValues, MAP_KERNEL, type NodeKernel } from 'peercompute'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startNodes, testRelay, waitFor } from '../integration/helpers.js'
import { type Attacker, watchUnhandled } from './attacker.js'
import { startRogueExecutor } from './rogue-executor.js'

const BATCH = 8
const ITEMS = Array.from({ length: BATCH * 40 }, (_, i) => prng(0x3aa + i).bytes(1 + (i % 50)))

let relay: Awaited<ReturnType<typeof testRelay>>
let submitter: NodeKernel
let executor: NodeKernel
const cleanups: Array<() => Promise<unknown> | unknown> = []

beforeAll(async () => {
  relay = await testRelay()
  ;[submitter, executor] = await startNodes(2, relay.wsAddr)
  await waitFor('the honest nodes see each other', () =>
    submitter.getStatus().peers.some((p) => p.id === executor.peerId && p.connected),
  )
})

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

afterAll(async () => {
  await Promise.all([submitter?.stop(), executor?.stop()])
  await relay?.stop()
})

/** Starts a rogue executor that answers every `@map` request with `batch` as its result bytes. */
async function hostileExecutor(batch: Uint8Array): Promise<Attacker> {
  const header = { type: 'bytes' as const, length: batch.length, execMs: 1, substrate: 'cpu' as const }
  const att = await startRogueExecutor(relay.tcpAddr, submitter, (id, h) =>
    h.kernel === MAP_KERNEL ? [encodeTaskMessage({ type: 'result', id, header, data: batch })] : [],
  )
  cleanups.push(() => att.stop())
  return att
}

const attackerFirst = (id: string) => ({ name: 'attacker-first', score: (c: Candidate) => (c.id === id ? 0 : 1) })

const lies: Array<[string, Uint8Array]> = [
  ['one result too few', encodeValues(Array.from({ length: BATCH - 1 }, () => 0))],
  ['one result too many', encodeValues(Array.from({ length: BATCH + 1 }, () => 0))],
  ['results of the wrong type', encodeValues(Array.from({ length: BATCH }, () => 'not a crc'))],
  ['crc32c results out of range', encodeValues(Array.from({ length: BATCH }, () => -1))],
  ['bytes that are no batch', Uint8Array.from([1, 0xff, 0xff, 0xff, 0xff, 0, 1, 2])],
  // format 2 (one JSON array text): a count its array disagrees with, text that is no array, a count past its bytes
  [
    'a format-2 batch whose array holds one more',
    format2(
      BATCH,
      Array.from({ length: BATCH + 1 }, () => 0),
    ),
  ],
  ['a format-2 batch that is no array', format2(BATCH, { length: BATCH })],
  ['a format-2 batch claiming 65,536 results', Uint8Array.from([2, 0, 1, 0, 0, 0x5b, 0x5d])],
  // format 3 (float64s): a NaN, a value short of its count, padding that is not zero, a count past its bytes
  ['a format-3 batch holding a NaN', format3((view) => view.setFloat64(8 + 8 * 3, Number.NaN, true))],
  ['a format-3 batch holding -Infinity', format3((view) => view.setFloat64(8, Number.NEGATIVE_INFINITY, true))],
  ['a format-3 batch one value short', format3().subarray(0, 8 + 8 * (BATCH - 1))],
  ['a format-3 batch with padding that is not zero', format3((view) => view.setUint8(7, 1))],
  ['a format-3 batch claiming 65,536 results', Uint8Array.from([3, 0, 1, 0, 0, 0, 0, 0])],
]

/** A format-3 batch of BATCH zeros (encodeValues writes numbers so), then `spoil`ed. */
function format3(spoil?: (view: DataView) => void): Uint8Array {
  const b = encodeValues(Array.from({ length: BATCH }, () => 0))
  if (b[0] !== 3) throw new Error('numbers are no longer format 3: this lie tests nothing')
  spoil?.(new DataView(b.buffer, b.byteOffset, b.byteLength))
  return b
}

/** A format-2 batch saying `count` values, whatever `json` holds. */
function format2(count: number, json: unknown): Uint8Array {
  const text = new TextEncoder().encode(JSON.stringify(json))
  return Uint8Array.from([2, count >>> 24, (count >>> 16) & 0xff, (count >>> 8) & 0xff, count & 0xff, ...text])
}

describe('hostile executors: map batches with wrong counts and types', () => {
  for (const [what, batch] of lies) {
    it(`${what}: caught, and the map job still gives every result in order`, async () => {
      const unhandled = watchUnhandled()
      try {
        const att = await hostileExecutor(batch)
        const job = submitter.compute.map({
          kernel: 'crc32c',
          inputs: ITEMS,
          batchItems: BATCH,
          policy: attackerFirst(att.peerId),
        })
        const seen: unknown[] = []
        for await (const v of job) seen.push(v)
        expect(seen).toEqual(ITEMS.map((x) => kernels.crc32c(x)))
        expect(job.batches.every((b) => b.peer !== att.peerId)).toBe(true)
        const tried = submitter.compute.metrics().filter((m) => m.peer === att.peerId)
        expect(tried.length).toBeGreaterThan(0) // the attacker was asked, never believed (above), and flagged:
        expect(submitter.getStatus().tasks.metrics.liars).toContain(att.peerId)
        expect(unhandled.errors).toEqual([])
      } finally {
        unhandled.stop()
      }
    })
  }
})
