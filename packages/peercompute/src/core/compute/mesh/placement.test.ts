import { describe, expect, it } from 'vitest'
import type { Capabilities } from '../../wire/registry.js'
import { fits } from './placement.js'
import { type Candidate, expectedMs, pieceCostUsd, substrateOf } from './policies.js'

const gatewayCaps = (payloadBytes: number, maxDurationS = 900): Capabilities => ({
  cores: 4,
  memoryMb: 1024,
  gpu: false,
  kernels: ['counteq', 'xor'],
  substrate: 'gateway',
  price: { model: 'per-invocation', usd: 0.01 },
  gateway: { kind: 'aws-lambda', latencyMs: 40, payloadBytes, maxDurationS, concurrency: 4, memoryMb: 1024 },
})

const candidate = (caps: Capabilities): Candidate => ({
  id: 'g',
  local: false,
  caps,
  load: { running: 0, queued: 0 },
  rttMs: 2,
  inflight: 0,
  slots: 5,
  failures: 0,
})

describe('placement on a gateway', () => {
  const piece = (bytes: number) => ({ bytes, affinityKey: 'k' })

  it('keeps inline pieces and bytes outputs within its payload limit; URL reductions go beyond it', () => {
    const c = candidate(gatewayCaps(1000))
    const inline = { op: 'counteq' as const, data: new Uint8Array(4000) }
    const url = { op: 'counteq' as const, data: { url: 'https://h/x', length: 4000 } }
    expect(fits(c, inline, 'counteq', piece(1000))).toBe(true)
    expect(fits(c, inline, 'counteq', piece(1001))).toBe(false)
    expect(fits(c, url, 'counteq', piece(4000))).toBe(true)
    expect(fits(c, { ...url, op: 'xor' }, 'xor', piece(4000))).toBe(false)
  })

  it('keeps pieces off a function whose time limit they would pass', () => {
    const c = candidate(gatewayCaps(1e9, 0.01))
    expect(fits(c, { op: 'counteq', data: { url: 'https://h/x', length: 1e8 } }, 'counteq', piece(1e8))).toBe(false)
  })

  it('adds the function’s round trip to the expected time, reports its kind as substrate, prices by its model', () => {
    const g = candidate(gatewayCaps(1000))
    const { gateway: _, ...plain } = gatewayCaps(1000)
    const n = candidate({ ...plain, substrate: 'node' })
    expect(expectedMs(g, piece(0)) - expectedMs(n, piece(0))).toBeCloseTo(40)
    expect(substrateOf(g)).toBe('aws-lambda')
    expect(substrateOf(n)).toBe('node')
    expect(substrateOf({ ...g, local: true })).toBe('local')
    expect(pieceCostUsd(g.caps, false, 1e6, 5)).toBe(0.01)
  })
})
