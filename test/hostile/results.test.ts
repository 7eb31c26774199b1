// Lying and malformed results, and fake error names: an attacking executor
// registers with the real relay claiming every kernel, ranks first for the
// honest submitter's job, and answers every task with something hostile. The
// job must still finish with the right result, the attacker must be caught
// (a liar, or failed runs and never the accepted result), and nothing may go
// unhandled.

import * as kernels from '@peercompute/kernels'
import { prng } from '@peercompute/kernels/testing'
import { type Candidate, encodeTaskMessage, type NodeKernel, type Op, runOp } from 'peercompute'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startNodes, testRelay, waitFor } from '../integration/helpers.js'
import { type Attacker, watchUnhandled } from './attacker.js'
import { type Answer, startRogueExecutor } from './rogue-executor.js'

/** What the attacker answers a request with: task message payloads (frames are added). */

const meta = { execMs: 1, substrate: 'cpu' as const }
const number =
  (value: number): Answer =>
  (id) => [
    encodeTaskMessage({ type: 'result', id, header: { type: 'number', value, ...meta }, data: new Uint8Array(0) }),
  ]
const bytes =
  (length: (pieceBytes: number) => number, send = true): Answer =>
  (id, h) => {
    const n = length(h.source.length)
    const data = send ? new Uint8Array(Math.min(n, 8192)) : new Uint8Array(0)
    return [encodeTaskMessage({ type: 'result', id, header: { type: 'bytes', length: n, ...meta }, data })]
  }
const error =
  (name: string): Answer =>
  (id) => [encodeTaskMessage({ type: 'error', id, name, message: `forged ${name}` })]

const PIECE = 8192
const DATA = prng(0x4e5).bytes(24 * PIECE + 100)

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

/** Starts a rogue executor that answers with `answer`, registered with every kernel. */
async function hostileExecutor(answer: Answer, opts: { trickle?: boolean } = {}): Promise<Attacker> {
  const att = await startRogueExecutor(relay.tcpAddr, submitter, answer, opts)
  cleanups.push(() => att.stop())
  return att
}

/** A policy that tries the attacker first for every piece (so each attack is met, not dodged by luck). */
const attackerFirst = (id: string) => ({ name: 'attacker-first', score: (c: Candidate) => (c.id === id ? 0 : 1) })

/** Runs `op` over DATA from the honest submitter, the attacker ranked first; checks the result against the kernels. */
async function honestJob(op: Op, attacker: string) {
  const job = submitter.compute.submit({ op, data: DATA, imm: 9, pieceBytes: PIECE, policy: attackerFirst(attacker) })
  const res = await job.result
  const want = runOp(op, DATA, { imm: 9 })
  if (want instanceof Uint8Array) expect(Buffer.compare(res.result as Uint8Array, want)).toBe(0)
  else expect(res.result).toBe(want)
  for (const p of res.pieces) expect(p.peer).not.toBe(attacker)
  const runs = res.pieces.flatMap((p) => p.runs).filter((r) => r.peer === attacker)
  expect(runs.length).toBeGreaterThan(0) // the attacker was asked, and
  expect(runs.every((r) => !r.ok || r.agreed === false)).toBe(true) // never believed
  return { res, runs }
}

describe('hostile executors: lying and malformed results, fake error names', () => {
  const lies: Array<[string, Op, Answer, string]> = [
    ['a number for xor', 'xor', number(0), 'MalformedResultError'],
    ['a short byte array for add', 'add', bytes((n) => n - 1), 'MalformedResultError'],
    ['a declared result length of 2^40 for xor', 'xor', bytes(() => 2 ** 40, false), 'MalformedResultError'],
    ['bytes for counteq', 'counteq', bytes((n) => n), 'MalformedResultError'],
    ['an out-of-range crc32c', 'crc32c', number(2 ** 32 + 5), 'MalformedResultError'],
  ]
  for (const [what, op, answer, errorName] of lies) {
    it(`${what}: a liar, excluded; the job is right`, async () => {
      const unhandled = watchUnhandled()
      try {
        const att = await hostileExecutor(answer)
        const { res, runs } = await honestJob(op, att.peerId)
        expect(res.liars).toEqual([att.peerId])
        expect(runs.some((r) => r.error === errorName)).toBe(true)
        expect(submitter.getStatus().tasks.metrics.liars).toContain(att.peerId)
        const failed = submitter.compute.metrics().filter((m) => m.peer === att.peerId)
        expect(failed.length).toBeGreaterThan(0)
        expect(failed.filter((m) => m.ok)).toEqual([])
        expect(unhandled.errors).toEqual([])
      } finally {
        unhandled.stop()
      }
    })
  }

  for (const name of ['DataSourceError', 'ResultMismatchError', 'AbortError', 'PayloadTooLargeError']) {
    it(`a fake ${name} from one peer is that peer's failure; the job is right`, async () => {
      const unhandled = watchUnhandled()
      try {
        const att = await hostileExecutor(error(name))
        const { runs } = await honestJob('crc32c', att.peerId)
        expect(runs.every((r) => !r.ok && r.error === 'RemoteTaskError' && r.remoteError === name)).toBe(true)
        expect(submitter.compute.metrics().some((m) => m.peer === att.peerId && m.error === 'RemoteTaskError')).toBe(
          true,
        )
        expect(unhandled.errors).toEqual([])
      } finally {
        unhandled.stop()
      }
    })
  }

  it('a right result sent a byte per muxer message: the submitter closes the connection; the job is right', async () => {
    const unhandled = watchUnhandled()
    try {
      const att = await hostileExecutor(
        (id, h) => [
          encodeTaskMessage({
            type: 'result',
            id,
            header: { type: 'bytes', length: h.source.length, ...meta },
            data: runOp('xor', DATA.subarray(0, h.source.length), { imm: 9 }) as Uint8Array, // right for the first piece
          }),
        ],
        { trickle: true },
      )
      let closed = 0
      att.node.addEventListener('connection:close', (e) => {
        if (e.detail.remotePeer.toString() === submitter.peerId) closed++
      })
      const { runs } = await honestJob('xor', att.peerId)
      expect(runs.every((r) => !r.ok)).toBe(true) // no trickled result counted, however right
      expect(closed).toBeGreaterThan(0)
      expect(unhandled.errors).toEqual([])
    } finally {
      unhandled.stop()
    }
  })

  it('the honest executor kept serving: a job placed only there runs', async () => {
    const res = await submitter.compute.submit({
      op: 'fnv64',
      data: DATA,
      pieceBytes: PIECE * 4,
      includeLocal: false,
      peers: [executor.peerId],
    }).result
    expect(res.result).toBe(kernels.fnv64(DATA))
    expect(res.peers).toEqual([executor.peerId])
  })
})
