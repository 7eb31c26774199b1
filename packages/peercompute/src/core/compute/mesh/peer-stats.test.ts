import { describe, expect, it } from 'vitest'
import { PeerStatsTable } from './peer-stats.js'

describe('PeerStatsTable', () => {
  it('stays within its bound, forgetting the least recently used idle peers', () => {
    const t = new PeerStatsTable(3)
    t.get('a').failures = 5
    t.get('b')
    t.get('c')
    t.get('a') // a is now the most recently used
    t.get('d')
    expect(t.size).toBe(3)
    expect(t.peek('b')).toBeUndefined()
    expect(t.peek('a')?.failures).toBe(5)
    for (let i = 0; i < 10_000; i++) t.get(`sybil-${i}`)
    expect(t.size).toBe(3)
  })

  it('never forgets a peer with pieces in flight (its slot accounting must stay right)', () => {
    const t = new PeerStatsTable(2)
    t.get('busy').inflight = 1
    for (let i = 0; i < 100; i++) t.get(`p${i}`)
    expect(t.peek('busy')?.inflight).toBe(1)
    expect(t.size).toBe(2)
  })

  it('cool-downs double per spell in a row; throughput is a moving average', () => {
    const t = new PeerStatsTable()
    const s = t.get('x')
    t.markDown(s, 0)
    expect(s.downUntil).toBe(2000)
    t.markDown(s, 0)
    expect(s.downUntil).toBe(4000)
    t.measured(s, 10)
    t.measured(s, 20)
    expect(s.throughput).toBeCloseTo(13)
    expect(() => new PeerStatsTable(0)).toThrow(RangeError)
  })
})
