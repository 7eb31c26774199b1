import { describe, expect, it } from 'vitest'
import { KeyedBuckets, RegistryLimiter } from './rate-limit.js'

describe('KeyedBuckets', () => {
  it('allows the burst, then the sustained rate, per key and per kind', () => {
    const b = new KeyedBuckets({ a: { perSecond: 2, burst: 3 }, b: { perSecond: 1, burst: 1 } }, 10)
    const t = 1_000_000
    expect([1, 2, 3, 4].map(() => b.take('k', 'a', t))).toEqual([true, true, true, false])
    expect(b.take('k', 'b', t)).toBe(true) // another kind has its own bucket
    expect(b.take('other', 'a', t)).toBe(true) // another key too
    expect(b.take('k', 'a', t + 499)).toBe(false)
    expect(b.take('k', 'a', t + 500)).toBe(true) // 2/s: one token per 500 ms
    expect(b.take('k', 'a', t + 500)).toBe(false)
    // a refill never passes the burst
    expect([1, 2, 3, 4].map(() => b.take('k', 'a', t + 60_000))).toEqual([true, true, true, false])
  })

  it('stays within maxKeys (least recently used goes) and forgets idle keys', () => {
    const b = new KeyedBuckets({ a: { perSecond: 1, burst: 1 } }, 3)
    for (let i = 0; i < 100; i++) b.take(`k${i}`, 'a', 0)
    expect(b.size).toBe(3)
    expect(b.has('k99', 'a', 0)).toBe(false)
    b.sweep(500)
    expect(b.size).toBe(3) // not refilled yet: still state worth keeping
    b.sweep(1000)
    expect(b.size).toBe(0)
  })

  it('keeps a ban until it ends', () => {
    const b = new KeyedBuckets({ a: { perSecond: 1, burst: 1 } }, 3)
    b.ban('x', 5000, 0)
    b.sweep(4999)
    expect(b.isBanned('x', 4999)).toBe(true)
    b.sweep(5000)
    expect(b.isBanned('x', 5000)).toBe(false)
    expect(b.size).toBe(0)
  })

  it('refuses nonsense rates', () => {
    expect(() => new KeyedBuckets({ a: { perSecond: 0, burst: 1 } }, 1)).toThrow(RangeError)
    expect(() => new KeyedBuckets({ a: { perSecond: 1, burst: 1 } }, 0)).toThrow(RangeError)
  })
})

describe('RegistryLimiter', () => {
  const rates = {
    announce: { perSecond: 1, burst: 2 },
    heartbeat: { perSecond: 1, burst: 2 },
    mesh: { perSecond: 1, burst: 2 },
    subscribe: { perSecond: 1, burst: 1 },
  }

  it('refuses over the per-peer budget, then cuts the peer off and bans its id', () => {
    const l = new RegistryLimiter({ peerRates: rates, strikes: { perSecond: 1, burst: 3 }, banMs: 10_000 })
    const verdicts = Array.from({ length: 7 }, () => l.admit('p', '1.2.3.4', 'heartbeat', 0))
    expect(verdicts).toEqual(['ok', 'ok', 'limited', 'limited', 'limited', 'cut-off', 'cut-off'])
    expect(l.isBanned('p', 9_999)).toBe(true)
    expect(l.admit('p', '1.2.3.4', 'announce', 9_999)).toBe('cut-off')
    expect(l.isBanned('p', 10_000)).toBe(false)
  })

  it('remembers a peer across streams: its budget is not reset by anything but time', () => {
    const l = new RegistryLimiter({ peerRates: rates })
    expect(l.admit('p', 'ip', 'subscribe', 0)).toBe('ok')
    expect(l.admit('p', 'ip', 'subscribe', 10)).toBe('limited')
    expect(l.admit('p', 'ip', 'subscribe', 1010)).toBe('ok')
  })

  it('bounds one IP, whatever the number of peer ids', () => {
    const l = new RegistryLimiter({ peerRates: rates, peersPerIp: 3 })
    // an IP's burst is 3 peers' worth: 6 announcements, however many ids send them
    const ok = Array.from({ length: 50 }, (_, i) => l.admit(`p${i}`, '10.0.0.1', 'announce', 0)).filter(
      (v) => v === 'ok',
    )
    expect(ok).toHaveLength(6)
    // another IP is not affected
    expect(l.admit('q', '10.0.0.2', 'announce', 0)).toBe('ok')
  })

  it('holds at most maxKeys peer ids and maxKeys IPs', () => {
    const l = new RegistryLimiter({ maxKeys: 16 })
    for (let i = 0; i < 1000; i++) l.admit(`p${i}`, `ip${i}`, 'heartbeat', 0)
    expect(l.keys).toBeLessThanOrEqual(32)
    l.sweep(60_000)
    expect(l.keys).toBe(0)
  })
})
