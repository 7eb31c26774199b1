import { prng, testSeed } from '@peercompute/kernels/testing'
import { describe, expect, it } from 'vitest'
import { Backoff } from './backoff.js'
import { chooseNeighbors, type TopologyInput } from './topology.js'
import { transportOf } from './transport-kind.js'

const SEED = testSeed(0xb0)

describe('Backoff', () => {
  it('grows exponentially with jitter up to the cap, and resets', () => {
    const r = prng(SEED)
    const b = new Backoff({ initialMs: 100, maxMs: 1000, random: () => r.u32() / 2 ** 32 })
    const d = Array.from({ length: 8 }, () => b.next())
    const bounds = [100, 200, 400, 800, 1000, 1000, 1000, 1000]
    d.forEach((x, i) => {
      expect(x).toBeGreaterThanOrEqual(bounds[i] / 2)
      expect(x).toBeLessThan(bounds[i])
    })
    b.reset()
    expect(b.next()).toBeLessThan(100)
  })
})

describe(`topologies (SEED=${SEED})`, () => {
  const ids = (n: number) => Array.from({ length: n }, (_, i) => `peer-${String(i).padStart(3, '0')}`)
  const base = (self: string, peers: string[]): TopologyInput => ({
    self,
    peers,
    topology: 'distributed',
    maxConnections: 32,
    children: 2,
    k: 3,
    rttMs: new Map(),
  })

  it('distributed: everyone connects to everyone (up to the cap), each pair dialled once', () => {
    const all = ids(6)
    const choices = all.map((s) => [s, chooseNeighbors(base(s, all))] as const)
    for (const [s, c] of choices) expect(c.neighbors).toEqual(new Set(all.filter((p) => p !== s)))
    for (const [a] of choices) {
      for (const [b, cb] of choices) {
        if (a === b) continue
        const ca = choices.find(([x]) => x === a)?.[1]
        expect(Number(ca?.dial.has(b)) + Number(cb.dial.has(a)), `${a}-${b}`).toBe(1)
      }
    }
    expect(chooseNeighbors({ ...base('peer-000', ids(50)), maxConnections: 8 }).neighbors.size).toBe(8)
  })

  it('hierarchy: a tree; parent and child agree; the child dials', () => {
    const r = prng(SEED)
    const all = ids(2 + r.int(30))
    const input = (s: string): TopologyInput => ({ ...base(s, all), topology: 'hierarchy', children: 3 })
    let edges = 0
    for (const s of all) {
      const c = chooseNeighbors(input(s))
      for (const n of c.neighbors) {
        expect(chooseNeighbors(input(n)).neighbors.has(s), `${s} ~ ${n}`).toBe(true)
        edges++
      }
      expect(c.dial.size).toBe(s === all[0] ? 0 : 1) // only the root has no parent
      expect(c.neighbors.size).toBeLessThanOrEqual(1 + 3)
    }
    expect(edges / 2).toBe(all.length - 1) // a tree over n nodes has n - 1 edges
  })

  it('emergent: the k lowest RTTs among measured peers', () => {
    const rtt = new Map([
      ['a', 5],
      ['b', 1],
      ['c', 9],
      ['d', 3],
    ])
    const c = chooseNeighbors({ ...base('self', ['a', 'b', 'c', 'd', 'e']), topology: 'emergent', k: 2, rttMs: rtt })
    expect(c.neighbors).toEqual(new Set(['b', 'd']))
    expect(c.dial).toEqual(c.neighbors)
  })

  it('classifies transports from the remote address', () => {
    expect(transportOf('/ip4/127.0.0.1/tcp/1/ws/p2p/R/p2p-circuit/webrtc/p2p/X', false)).toBe('webrtc')
    expect(transportOf('/ip4/127.0.0.1/tcp/1/ws/p2p/R/p2p-circuit/p2p/X', true)).toBe('relayed')
    expect(transportOf('/ip4/127.0.0.1/tcp/1/ws/p2p/R', false)).toBe('websocket')
    expect(transportOf('/ip4/127.0.0.1/tcp/1/p2p/R', false)).toBe('tcp')
  })
})
