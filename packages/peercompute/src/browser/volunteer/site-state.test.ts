import { describe, expect, it } from 'vitest'
import { parseSiteState } from './site-state.js'

const GOOD = {
  state: 'running',
  tasks: 3,
  cpuSeconds: 1.5,
  refused: 0,
  userPaused: false,
  reasons: [],
  peerId: '12D3KooW',
}

describe('parseSiteState (what a follower tab takes from the leader)', () => {
  it('keeps a well-formed state', () => {
    expect(parseSiteState(GOOD)).toEqual(GOOD)
    expect(parseSiteState({ ...GOOD, peerId: undefined })).toEqual({ ...GOOD, peerId: undefined })
  })

  it('refuses what another version or a page script might post', () => {
    for (const bad of [
      null,
      'running',
      [],
      { ...GOOD, state: 'withdrawn' },
      { ...GOOD, tasks: -1 },
      { ...GOOD, tasks: '3' },
      { ...GOOD, cpuSeconds: Number.NaN },
      { ...GOOD, userPaused: 'no' },
    ])
      expect(parseSiteState(bad)).toBeUndefined()
  })

  it('drops what it cannot show: non-string reasons, too many of them, an overlong peer id', () => {
    const s = parseSiteState({ ...GOOD, reasons: ['hidden', 7, ...Array(20).fill('user')], peerId: 'x'.repeat(500) })
    expect(s?.reasons).toHaveLength(8)
    expect(s?.reasons[0]).toBe('hidden')
    expect(s?.peerId).toBeUndefined()
  })
})
