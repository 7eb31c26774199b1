import { describe, expect, it } from 'vitest'
import { DataSourceError, errorFromName, KernelError, TaskTimeoutError } from '../../../errors.js'
import { errorForPeer } from './peer-errors.js'
import { Slots } from './slots.js'
import { TokenBuckets } from './token-buckets.js'

describe('errorForPeer', () => {
  it('sends the name and a fixed message: no URL, address, status or path', () => {
    const e = new DataSourceError('fetching http://10.0.0.7:8080/secret: HTTP 403')
    expect(errorForPeer(e)).toEqual({ name: 'DataSourceError', message: 'the data source could not be read' })
    expect(errorForPeer(new TaskTimeoutError('x'))).toEqual({
      name: 'TaskTimeoutError',
      message: "the task's deadline passed on the executor",
    })
  })

  it("a kernel's error keeps its class name only; anything else is a KernelError", () => {
    expect(errorForPeer(errorFromName('RangeError', '/home/me/kernel.mjs:3 bad'))).toEqual({
      name: 'KernelError',
      message: 'the kernel threw an error (RangeError)',
    })
    expect(errorForPeer(new KernelError('m', 'not a name; rm -rf /'))).toEqual({
      name: 'KernelError',
      message: 'the kernel threw an error',
    })
    const sys = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { name: 'SystemError' })
    expect(errorForPeer(sys)).toEqual({ name: 'KernelError', message: 'the task failed on the executor' })
    expect(errorForPeer('a string')).toMatchObject({ name: 'KernelError' })
    expect(errorForPeer(undefined)).toMatchObject({ name: 'KernelError' })
  })
})

describe('TokenBuckets', () => {
  it('stays bounded under many keys: full buckets are swept', () => {
    const clock = { t: 0 }
    const b = new TokenBuckets(100, { now: () => clock.t })
    for (let i = 0; i < 100_000; i++) {
      expect(b.take(`k${i}`)).toBe(true)
      clock.t += 1 // each key's bucket is full again 10 ms later
    }
    expect(b.size).toBeLessThan(2048)
  })

  it('sweeping loses nothing: an emptied bucket stays empty', () => {
    const clock = { t: 0 }
    const b = new TokenBuckets(5, { now: () => clock.t })
    for (let i = 0; i < 5; i++) expect(b.take('hot')).toBe(true)
    for (let i = 0; i < 5000; i++) b.take(`cold${i}`)
    expect(b.take('hot')).toBe(false)
  })

  it('a burst apart from the rate: `burst` at once, then `rate` a second', () => {
    const clock = { t: 0 }
    const b = new TokenBuckets(10, { burst: 3, now: () => clock.t })
    expect([1, 2, 3, 4].map(() => b.take('k'))).toEqual([true, true, true, false])
    clock.t += 100
    expect([b.take('k'), b.take('k')]).toEqual([true, false])
    clock.t += 10_000
    expect([1, 2, 3, 4].map(() => b.take('k'))).toEqual([true, true, true, false])
  })
})

describe('Slots', () => {
  it('grants `size` at once, the rest in order; an aborted waiter leaves the queue', async () => {
    const s = new Slots(2)
    const r1 = await s.acquire(new AbortController().signal)
    await s.acquire(new AbortController().signal)
    const ac = new AbortController()
    const gone = s.acquire(ac.signal)
    let third = false
    const next = s.acquire(new AbortController().signal).then((r) => {
      third = true
      return r
    })
    expect(s.queued).toBe(2)
    ac.abort(new Error('left'))
    await expect(gone).rejects.toThrow('left')
    expect(s.queued).toBe(1)
    r1()
    r1() // a second release is ignored
    const r3 = await next
    expect(third).toBe(true)
    expect(s.busy).toBe(2)
    r3()
    expect(s.busy).toBe(1)
  })
})
