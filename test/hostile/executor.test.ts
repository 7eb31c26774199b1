// Attacks on the task executor, from plain js-libp2p peers that speak the task
// protocol through the wire codecs only. For each attack: what the victim holds
// stays within its budgets (from its stats), an honest submitter's job running
// meanwhile finishes correctly, the attacker is refused or cut off, and no
// unhandled error occurs in this process.

import { peerIdFromString } from '@libp2p/peer-id'
import * as kernels from '@peercompute/kernels'
import { prng } from '@peercompute/kernels/testing'
import {
  createNode,
  decodeTaskMessage,
  encodeFrame,
  encodeTaskMessage,
  type NodeKernel,
  TASK_FRAME_MAX,
  TASK_PROTOCOL,
  type TaskLimits,
} from 'peercompute'
import { afterEach, describe, expect, it } from 'vitest'
import { startNodes, TEST_PEER, testRelay, waitFor } from '../integration/helpers.js'
import { type Attacker, type RawStream, startAttacker, watchUnhandled } from './attacker.js'

/** A task protocol message as the wire codec decodes it. */
type TaskMessage = ReturnType<typeof decodeTaskMessage>

const MiB = 1024 * 1024
const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A victim node listening on loopback TCP, an honest submitter, and a watch on unhandled errors. */
async function arena(limits: Partial<TaskLimits> = {}) {
  const unhandled = watchUnhandled()
  cleanups.push(() => unhandled.stop())
  const r = await testRelay()
  cleanups.push(() => r.stop())
  const victim = await createNode({
    ...TEST_PEER,
    enableWebGPU: false,
    maxWorkers: 1,
    relays: [r.wsAddr],
    listen: ['/ip4/127.0.0.1/tcp/0'],
    limits,
  })
  await victim.start()
  const [honest] = await startNodes(1, r.wsAddr)
  cleanups.push(() => Promise.all([victim.stop(), honest.stop()]))
  await waitFor('the honest peer sees the victim', () =>
    honest.getStatus().peers.some((p) => p.id === victim.peerId && p.connected),
  )
  const addr = victim.network.libp2p
    .getMultiaddrs()
    .map(String)
    .find((a) => a.startsWith('/ip4/127.0.0.1/tcp/') && !a.includes('/ws') && !a.includes('p2p-circuit'))
  if (!addr) throw new Error('the victim has no loopback TCP address')
  return {
    victim,
    honest,
    addr,
    unhandled,
    stats: () => victim.compute.status().executor,
  }
}

async function attackers(n: number): Promise<Attacker[]> {
  const list = await Promise.all(Array.from({ length: n }, () => startAttacker()))
  cleanups.push(() => Promise.all(list.map((a) => a.stop())))
  return list
}

/** A job of the honest peer that only the victim can run; resolves once checked. */
async function honestJob(honest: NodeKernel, victim: NodeKernel, seed: number, opts: { maxAttempts?: number } = {}) {
  const data = prng(seed).bytes(8 * MiB)
  const r = await honest.compute.submit({ op: 'crc32c', data, includeLocal: false, pieceBytes: MiB, ...opts }).result
  expect(r.result).toBe(kernels.crc32c(data))
  expect(r.peers).toEqual([victim.peerId])
}

/** A request frame's payload: crc32c over `length` inline bytes, of which `data` come along. */
function request(id: number, length: number, opts: { deadlineMs?: number; data?: Uint8Array; kernel?: string } = {}) {
  return encodeTaskMessage({
    type: 'request',
    id,
    header: {
      kernel: opts.kernel ?? 'crc32c',
      source: { kind: 'inline', length },
      deadlineMs: opts.deadlineMs ?? 60_000,
    },
    data: opts.data ?? new Uint8Array(0),
  })
}

/** Every message the victim sent back on `s`. */
function replies(s: RawStream): TaskMessage[] {
  return s.frames.map((f) => decodeTaskMessage(f))
}

function errorsOf(s: RawStream): Array<{ id: number; name: string; message: string }> {
  return replies(s).filter((m): m is Extract<TaskMessage, { type: 'error' }> => m.type === 'error')
}

/**
 * Opens a task stream, retrying the connection: libp2p refuses more than 5
 * inbound connections a second from one host, and every attacker is on 127.0.0.1.
 */
async function openRetrying(a: Attacker, addr: string): Promise<RawStream> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await a.open(addr, TASK_PROTOCOL)
    } catch (err) {
      if (attempt >= 20) throw err
      await new Promise((r) => setTimeout(r, 250)) // a back-off before dialling again, not a synchronisation
    }
  }
}

/** Opens a task stream that the victim resets at once (a cut-off peer): resolves once it is closed. */
async function expectResetOnSight(a: Attacker, addr: string): Promise<void> {
  const s = await a.open(addr, TASK_PROTOCOL).catch(() => undefined)
  if (s) {
    s.frame(request(1, 1, { data: Uint8Array.of(1) }))
    await waitFor('the cut-off peer is reset on sight', () => s.closed, 10_000)
    expect(s.frames).toEqual([])
  }
}

describe('hostile peers against the task executor', () => {
  it('5,000 requests declaring 64 MiB each, never sent: nothing is allocated for them, the flooder is cut off', async () => {
    const { victim, honest, addr, unhandled, stats } = await arena()
    const job = honestJob(honest, victim, 1)
    const [atk] = await attackers(1)
    const s = await atk.open(addr, TASK_PROTOCOL)
    const other = await atk.open(addr, TASK_PROTOCOL)
    for (let id = 1; id <= 5000 && !s.closed; id++) s.frame(request(id, 64 * MiB))
    await waitFor('the flooder is cut off', () => s.closed)
    await waitFor("the flooder's other stream goes too", () => other.closed)
    // four fit the per-peer budget of 256 MiB declared; the rest were refused until the allowance ran out
    const errs = errorsOf(s)
    expect(errs.length).toBeGreaterThan(100)
    expect(errs.every((e) => e.name === 'RateLimitedError')).toBe(true)
    expect(errs[0].message).toMatch(/input bytes in flight exceed 268435456/)
    await job
    // 320 GB declared; what the victim held at its peak is the honest job's pieces
    expect(stats().peakBytesHeld).toBeLessThan(16 * MiB)
    expect(stats().peakAdmitted).toBeLessThanOrEqual(4 + 4)
    expect(stats().cutOffs).toBe(1)
    await expectResetOnSight(atk, addr)
    await waitFor('the attack holds nothing', () => stats().admitted === 0 && stats().bytesHeld === 0)
    expect(unhandled.errors).toEqual([])
  })

  it('the same from 8 peer ids: node-wide budgets bound them together, each is cut off', async () => {
    const { victim, honest, addr, unhandled, stats } = await arena({ maxTasks: 16 })
    const list = await attackers(8)
    const streams: RawStream[] = []
    for (const a of list) streams.push(await openRetrying(a, addr))
    // first each stays within its own limits (4 × 64 MiB = its 256 MiB): together they pass the node's 16 tasks
    for (const s of streams) for (let id = 1; id <= 4; id++) s.frame(request(id, 64 * MiB))
    const errors = () => streams.flatMap((s) => errorsOf(s))
    await waitFor('16 of the 32 requests refused', () => errors().length === 16, 40_000)
    expect(stats()).toMatchObject({ admitted: 16, bytesHeld: 0 })
    expect(errors().every((e) => e.name === 'RateLimitedError' && /16 tasks in flight/.test(e.message))).toBe(true)
    // then they flood, while the honest peer's job runs; it retries while the node is full
    const job = honestJob(honest, victim, 2, { maxAttempts: 12 })
    for (const s of streams) for (let id = 5; id <= 1250 && !s.closed; id++) s.frame(request(id, 64 * MiB))
    await waitFor('every flooder is cut off', () => streams.every((s) => s.closed), 50_000) // 10,000 frames: slow on a loaded machine
    await job
    // 8 × 256 MiB declared, but never more than 16 tasks, and only the honest job's bytes held
    expect(stats().peakAdmitted).toBeLessThanOrEqual(16)
    expect(stats().peakBytesHeld).toBeLessThan(16 * MiB)
    expect(stats().cutOffs).toBe(8)
    expect(stats().cutOffPeers).toBe(8)
    for (const a of list.slice(0, 2)) await expectResetOnSight(a, addr)
    await waitFor('the attack holds nothing', () => stats().admitted === 0 && stats().bytesHeld === 0)
    expect(unhandled.errors).toEqual([])
  }, 120_000)

  it('partial frames on idle streams: streams are bounded node-wide and idle ones are closed', async () => {
    const { victim, honest, addr, unhandled, stats } = await arena({ maxStreams: 4, streamIdleMs: 2000 })
    // if its stream comes after the attackers' it is refused until they idle out: it retries
    const job = honestJob(honest, victim, 3, { maxAttempts: 12 })
    const list = await attackers(3)
    const opened: Array<RawStream | undefined> = []
    for (const a of list) {
      // the first opens the connection (retried: libp2p refuses more than 5 inbound connections a second per host)
      opened.push(await openRetrying(a, addr).catch(() => undefined))
      opened.push(await a.open(addr, TASK_PROTOCOL).catch(() => undefined))
    }
    const streams = opened.filter((s): s is RawStream => s !== undefined)
    // half of a 16,000-byte frame, then nothing: the victim buffers at most one frame per stream
    const frame = encodeFrame(request(1, 20_000, { data: new Uint8Array(15_000) }))
    for (const s of streams) s.raw(frame.subarray(0, 8000))
    await waitFor('every partial stream is closed (refused at once, or idle)', () => streams.every((s) => s.closed))
    await job
    // never more than the node-wide bound open at once; the 6 attackers' streams met it (the honest job's stream
    // may or may not have been open then, so at least 2 of the 6, not 3, were refused)
    expect(stats().peakStreams).toBeLessThanOrEqual(4)
    expect(stats().streamsRefused + (6 - streams.length)).toBeGreaterThanOrEqual(2)
    expect(stats().admitted).toBe(0)
    for (const s of streams) expect(replies(s)).toEqual([])
    expect(unhandled.errors).toEqual([])
  })

  it('oversized frames and inputs: typed errors, the broken stream is reset, others go on', async () => {
    const { victim, honest, addr, unhandled, stats } = await arena()
    const job = honestJob(honest, victim, 4)
    const [atk] = await attackers(1)
    const s = await atk.open(addr, TASK_PROTOCOL)
    s.frame(request(1, 64 * MiB + 1))
    const hugeHeader = new Uint8Array(16_000)
    hugeHeader.set([1, 2, 0xff, 0x7f]) // a request, id 2, header length 16,383 (> 4,096)
    s.frame(hugeHeader)
    s.frame(request(3, 4, { data: new Uint8Array(5) })) // more bytes than declared
    await waitFor('three typed errors', () => errorsOf(s).length >= 3)
    expect(errorsOf(s)).toMatchObject([
      { id: 1, name: 'PayloadTooLargeError', message: `input of ${64 * MiB + 1} bytes exceeds ${64 * MiB}` },
      { id: 2, name: 'ProtocolError', message: 'bad header length 16383' },
      { id: 3, name: 'PayloadTooLargeError', message: 'more data than the request declared' },
    ])
    expect(s.closed).toBe(false)
    // a frame of 1 MiB announced: the victim refuses before buffering it and resets the stream
    s.raw(Uint8Array.of(0x80, 0x80, 0x40))
    await waitFor('the oversized frame resets the stream', () => s.closed)
    expect(errorsOf(s).at(-1)).toMatchObject({
      id: 0,
      name: 'ProtocolError',
      message: new RegExp(`exceeds the limit of ${TASK_FRAME_MAX}\\b`),
    })
    // a length varint that never ends
    const s2 = await atk.open(addr, TASK_PROTOCOL)
    s2.raw(new Uint8Array(8).fill(0xff))
    await waitFor('the endless varint resets the stream', () => s2.closed)
    expect(errorsOf(s2)).toMatchObject([{ id: 0, name: 'ProtocolError', message: /varint longer than 5 bytes/ }])
    await job
    expect(stats().cutOffs).toBe(0) // bad frames alone are refused, not punished
    await waitFor('nothing held', () => stats().admitted === 0 && stats().bytesHeld === 0)
    expect(unhandled.errors).toEqual([])
  })

  it('a flood of small valid requests: some run (correctly), the rest are refused, then the flooder is cut off', async () => {
    const { victim, honest, addr, unhandled, stats } = await arena()
    const job = honestJob(honest, victim, 5)
    const [reader, mute] = await attackers(2)
    const data = Uint8Array.from({ length: 16 }, (_, i) => i)
    const payload = (id: number) => request(id, 16, { data })
    const s = await reader.open(addr, TASK_PROTOCOL)
    // served like anyone while within the limits
    for (let id = 1; id <= 10; id++) s.frame(payload(id))
    await waitFor('ten results', () => replies(s).filter((m) => m.type === 'result').length === 10)
    for (let id = 11; id <= 20_000 && !s.closed; id++) s.frame(payload(id))
    await waitFor('the flooder is cut off', () => s.closed)
    const results = replies(s).filter((m) => m.type === 'result')
    for (const m of results) expect(m).toMatchObject({ header: { type: 'number', value: kernels.crc32c(data) } })
    const errs = errorsOf(s)
    expect(errs.length).toBeGreaterThan(0)
    expect(errs.every((e) => e.name === 'RateLimitedError')).toBe(true)
    // bounded replies: the refusal burst (1,000), what refilled meanwhile, and one per admitted task
    expect(results.length + errs.length).toBeLessThan(20_000)
    // a flooder that never reads its replies: they cannot pile up
    const m = await mute.open(addr, TASK_PROTOCOL, { read: false })
    for (let id = 1; id <= 20_000 && !m.closed; id++) m.frame(payload(id))
    await waitFor('the mute flooder is cut off', () => m.closed)
    await job
    expect(stats().cutOffs).toBe(2)
    await expectResetOnSight(mute, addr)
    await waitFor('nothing held', () => stats().admitted === 0 && stats().bytesHeld === 0)
    expect(unhandled.errors).toEqual([])
  })

  it('a frame sent a byte per muxer message: the stream is reset and the connection closed at once, others go on', async () => {
    const { victim, honest, addr, unhandled, stats } = await arena()
    const job = honestJob(honest, victim, 7)
    const [atk] = await attackers(1)
    const s = await atk.open(addr, TASK_PROTOCOL)
    const bystander = await atk.open(victim.peerId, TASK_PROTOCOL) // a second stream on the same connection
    const bytes = encodeFrame(request(1, 60_000, { data: new Uint8Array(60_000) }))
    // each send() leaves as a muxer data frame of its own: 1,000 of one byte each (the victim gives up after 74)
    for (let i = 0; i < 1000; i++) s.raw(bytes.subarray(i, i + 1))
    await waitFor('the trickled stream is reset', () => s.closed)
    await waitFor('the connection is closed, and every stream on it', () => bystander.closed)
    await waitFor('no connection left', () => atk.node.getConnections(peerIdFromString(victim.peerId)).length === 0)
    expect(errorsOf(s)).toEqual([]) // no word: each message more would cost the victim again
    expect(stats().refused).toBeGreaterThanOrEqual(1)
    await job
    expect(unhandled.errors).toEqual([])
  })

  it('input that trickles in forever, or never comes: the deadline from the request ends it', async () => {
    const { victim, honest, addr, unhandled, stats } = await arena()
    const job = honestJob(honest, victim, 6)
    const [atk] = await attackers(1)
    const s = await atk.open(addr, TASK_PROTOCOL)
    s.frame(request(1, MiB, { deadlineMs: 1500, data: new Uint8Array(100) }))
    s.frame(request(2, 64 * MiB, { deadlineMs: 1500 }))
    // 100 bytes every 100 ms (the attack itself, not synchronisation): never idle, never complete
    const trickle = setInterval(() => {
      if (!s.closed) s.frame(encodeTaskMessage({ type: 'data', id: 1, data: new Uint8Array(100) }))
    }, 100)
    cleanups.push(() => clearInterval(trickle))
    await waitFor('both tasks time out', () => errorsOf(s).filter((e) => e.name === 'TaskTimeoutError').length === 2)
    clearInterval(trickle)
    expect(
      errorsOf(s)
        .filter((e) => e.name === 'TaskTimeoutError')
        .map((e) => e.id)
        .sort(),
    ).toEqual([1, 2])
    await job
    await waitFor('nothing held', () => stats().admitted === 0 && stats().bytesHeld === 0)
    // the stream itself was not punished: it may run a real task
    const data = Uint8Array.of(1, 2, 3)
    s.frame(request(9, 3, { data }))
    await waitFor('the task runs', () => replies(s).some((m) => m.type === 'result' && m.id === 9))
    expect(replies(s).find((m) => m.type === 'result' && m.id === 9)).toMatchObject({
      header: { value: kernels.crc32c(data) },
    })
    expect(stats().cutOffs).toBe(0)
    expect(unhandled.errors).toEqual([])
  })
})
