import { describe, expect, it } from 'vitest'
import type { TaskRequestHeader } from '../../../wire/task.js'
import { InputBuffer } from './input-buffer.js'
import { type Admission, AdmissionLedger } from './ledger.js'
import { resolveLimits, TASK_LIMITS, type TaskLimits } from './limits.js'

const MiB = 1024 * 1024
const inline = (length: number): TaskRequestHeader => ({
  kernel: 'crc32c',
  source: { kind: 'inline', length },
  deadlineMs: 1000,
})
const url = (length: number): TaskRequestHeader => ({
  kernel: 'crc32c',
  source: { kind: 'url', url: 'https://example.com/x', offset: 0, length },
  deadlineMs: 1000,
})
const has = () => true

function ledger(limits: Partial<TaskLimits> = {}, clock = { t: 0 }) {
  return new AdmissionLedger(resolveLimits(limits), () => clock.t)
}

function admitted(x: Admission | Error): Admission {
  if (x instanceof Error) throw x
  return x
}

describe('AdmissionLedger', () => {
  it('counts a task from its request: declared bytes are checked, nothing is held until it is allocated', () => {
    const l = ledger()
    const a = admitted(l.admit('p', inline(64 * MiB), has))
    expect(l.stats()).toMatchObject({ admitted: 1, bytesHeld: 0 })
    expect(a.grow(MiB)).toBe(true)
    expect(l.stats().bytesHeld).toBe(MiB)
    a.release()
    a.release()
    expect(l.stats()).toMatchObject({ admitted: 0, bytesHeld: 0, peakBytesHeld: MiB })
  })

  it('refuses, in order, the rate, an unknown kernel, an oversized input, and each per-peer limit', () => {
    const l = ledger({ requestsPerSecondPerPeer: 1000, maxInflightPerPeer: 2, maxBufferedBytesPerPeer: 100 * MiB })
    expect(l.admit('p', inline(1), () => false)).toMatchObject({ name: 'KernelNotFoundError' })
    expect(l.admit('p', inline(65 * MiB), has)).toMatchObject({ name: 'PayloadTooLargeError' })
    admitted(l.admit('p', inline(60 * MiB), has))
    expect(l.admit('p', inline(60 * MiB), has)).toMatchObject({
      name: 'RateLimitedError',
      message: `${120 * MiB} input bytes in flight exceed ${100 * MiB}`,
    })
    admitted(l.admit('p', url(60 * MiB), has)) // a URL task declares no inline bytes
    expect(l.admit('p', inline(1), has)).toMatchObject({ name: 'RateLimitedError', message: /2 tasks in flight/ })
    // another peer is not affected by this one's limits
    admitted(l.admit('q', inline(60 * MiB), has))
  })

  it('a token bucket per peer: a burst of `rate`, then one more per 1/rate s', () => {
    const clock = { t: 0 }
    const l = ledger({ requestsPerSecondPerPeer: 10, maxInflightPerPeer: 1000 }, clock)
    for (let i = 0; i < 10; i++) admitted(l.admit('p', url(1), has)).release()
    expect(l.admit('p', url(1), has)).toMatchObject({ name: 'RateLimitedError', message: /requests per second/ })
    clock.t += 100
    admitted(l.admit('p', url(1), has))
    expect(l.admit('p', url(1), has)).toBeInstanceOf(Error)
  })

  it('node-wide budgets bound all peers together: new peer ids buy nothing', () => {
    const l = ledger({ maxTasks: 10, maxBytesHeld: 8 * MiB })
    const held: Admission[] = []
    for (let i = 0; i < 10; i++) held.push(admitted(l.admit(`peer-${i}`, inline(MiB), has)))
    expect(l.admit('peer-new', inline(1), has)).toMatchObject({
      name: 'RateLimitedError',
      message: /10 tasks in flight/,
    })
    // bytes: allocation past the node-wide budget is refused, whichever peer asks
    for (let i = 0; i < 8; i++) expect(held[i].grow(MiB)).toBe(true)
    expect(held[8].grow(1)).toBe(false)
    expect(l.stats().bytesHeld).toBe(8 * MiB)
    held[0].release()
    // admission refuses what the bytes held now leave no room for
    expect(l.admit('peer-new', inline(2 * MiB), has)).toMatchObject({ message: /too many input bytes/ })
    admitted(l.admit('peer-new', inline(MiB), has))
    for (const h of held) h.release()
  })

  it('streams: per peer and node-wide; a cut-off peer is refused until its time is up', () => {
    const clock = { t: 0 }
    const l = ledger({ maxStreams: 3, maxStreamsPerPeer: 2, cutOffMs: 1000 }, clock)
    expect(l.openStream('p')).toBeUndefined()
    expect(l.openStream('p')).toBeUndefined()
    expect(l.openStream('p')).toMatchObject({ name: 'RateLimitedError', message: /from one peer/ })
    expect(l.openStream('q')).toBeUndefined()
    expect(l.openStream('r')).toMatchObject({ message: /more than 3 task streams here/ })
    l.closeStream('p')
    l.closeStream('p')
    l.closeStream('p') // one too many: ignored
    expect(l.stats().streams).toBe(1)
    l.cutOff('p')
    expect(l.openStream('p')).toMatchObject({ message: /cut off/ })
    clock.t += 1001
    expect(l.openStream('p')).toBeUndefined()
    expect(l.stats().cutOff).toBe(0)
  })

  it('refusals: an allowance per peer (a burst, then so many a second)', () => {
    const l = ledger({ refusalsPerSecondPerPeer: 1, refusalBurstPerPeer: 3 })
    expect([1, 2, 3, 4].map(() => l.takeRefusal('p'))).toEqual([true, true, true, false])
    expect(l.takeRefusal('q')).toBe(true)
  })

  it('keeps no entry for a peer that holds nothing (thousands of peer ids leave nothing behind)', () => {
    const l = ledger({ maxTasks: 100_000 })
    for (let i = 0; i < 5000; i++) {
      const a = admitted(l.admit(`p${i}`, inline(10), has))
      a.release()
      l.openStream(`p${i}`)
      l.closeStream(`p${i}`)
    }
    expect((l as unknown as { peers: Map<string, unknown> }).peers.size).toBe(0)
    expect(l.stats()).toMatchObject({ admitted: 0, bytesHeld: 0, streams: 0 })
  })
})

describe('InputBuffer', () => {
  it('allocates as data arrives, never past what the request declared, each step granted by the budget', () => {
    const l = ledger({ maxBytesHeld: 4 * MiB })
    const a = admitted(l.admit('p', inline(4 * MiB), has))
    const b = new InputBuffer(4 * MiB, a)
    // another task's output already holds 2.5 MiB of the node's 4
    admitted(l.admit('q', url(1), has)).set(2.5 * MiB)
    expect(a.held).toBe(0)
    expect(b.push(new Uint8Array(1000).fill(7))).toBe('ok')
    expect(a.held).toBe(64 * 1024)
    let off = 1000
    while (off + 16_000 <= MiB) {
      expect(b.push(new Uint8Array(16_000).fill(off % 251))).toBe('ok')
      off += 16_000
    }
    expect(a.held).toBeLessThanOrEqual(MiB)
    // the next doubling (to 2 MiB) would pass the node-wide budget
    expect(b.push(new Uint8Array(MiB - off + 1))).toBe('budget')
    expect(b.received).toBe(off)
    expect(l.stats().bytesHeld).toBeLessThanOrEqual(4 * MiB)
  })

  it('is complete at exactly the declared length, with the bytes in order; more is an overflow', () => {
    const l = ledger()
    const a = admitted(l.admit('p', inline(100_000), has))
    const b = new InputBuffer(100_000, a)
    const data = Uint8Array.from({ length: 100_000 }, (_, i) => i % 253)
    for (let off = 0; off < data.length; off += 30_000) expect(b.push(data.subarray(off, off + 30_000))).toBe('ok')
    expect(b.complete).toBe(true)
    expect(b.bytes()).toEqual(data)
    expect(a.held).toBe(100_000)
    expect(b.push(Uint8Array.of(1))).toBe('overflow')
  })
})

describe('resolveLimits', () => {
  it('applies overrides and refuses nonsense with InvalidOptionError', () => {
    expect(resolveLimits({ maxTasks: 3 })).toEqual({ ...TASK_LIMITS, maxTasks: 3 })
    expect(() => resolveLimits({ maxTasks: 0 })).toThrow(expect.objectContaining({ name: 'InvalidOptionError' }))
    expect(() => resolveLimits({ maxTasks: Number.NaN })).toThrow(/positive number/)
    expect(() => resolveLimits({ urlPoolShare: 2 })).toThrow(/at most 1/)
    expect(() => resolveLimits({ nope: 1 } as Partial<TaskLimits>)).toThrow(/not a task limit/)
    expect(() => resolveLimits(null as unknown as Partial<TaskLimits>)).toThrow(/must be an object/)
  })
})
