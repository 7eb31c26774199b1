import { describe, expect, it } from 'vitest'
import type { Capabilities } from '../../wire/registry.js'
import { DEFAULT_PIECE, nextPieceSize, type SizingInput, TINY_PIECE } from './pieces.js'
import { type Candidate, POLICIES } from './policies.js'

const caps: Capabilities = {
  cores: 1,
  memoryMb: 1024,
  gpu: false,
  kernels: ['counteq'],
  substrate: 'node',
  price: { model: 'free', usd: 0 },
}

/** One remote peer with every slot taken. */
const busy: Candidate = {
  id: 'p',
  local: false,
  caps,
  load: { running: 0, queued: 0 },
  inflight: 2,
  slots: 2,
  failures: 0,
}

const sizing = (remaining: number): SizingInput => ({
  remaining,
  splittable: true,
  sequential: false,
  affinityKey: 'counteq',
  policy: POLICIES.balanced,
  eligible: () => [busy],
  restingUntil: () => undefined,
})

describe('nextPieceSize', () => {
  it('cuts a tiny rest even when every slot is taken (placement pipelines tiny pieces past the slots)', () => {
    expect(nextPieceSize(sizing(64))).toEqual({ size: 64 })
    expect(nextPieceSize(sizing(TINY_PIECE))).toEqual({ size: TINY_PIECE })
  })

  it('waits for a free slot before cutting a larger piece', () => {
    expect(nextPieceSize(sizing(TINY_PIECE + 1))).toEqual({ wait: 'starved' })
    expect(nextPieceSize(sizing(DEFAULT_PIECE * 4))).toEqual({ wait: 'starved' })
  })
})
