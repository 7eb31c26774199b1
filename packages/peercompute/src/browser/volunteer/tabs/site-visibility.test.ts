import { describe, expect, it } from 'vitest'
import { MAX_TRACKED_TABS, SiteVisibility } from './site-visibility.js'

describe('SiteVisibility', () => {
  it('counts this tab or a follower heard from within the ttl', () => {
    let now = 0
    const v = new SiteVisibility(300, () => now)
    expect(v.anyVisible(false)).toBe(false)
    expect(v.anyVisible(true)).toBe(true)
    v.report('tab-a', true)
    expect(v.anyVisible(false)).toBe(true)
    now = 299
    expect(v.anyVisible(false)).toBe(true)
    now = 301
    expect(v.anyVisible(false)).toBe(false) // silent too long
    expect(v.size).toBe(0)
    v.report('tab-a', true)
    v.report('tab-a', false)
    expect(v.anyVisible(false)).toBe(false)
    v.report('tab-b', true)
    v.clear()
    expect(v.anyVisible(false)).toBe(false)
  })

  it('tracks at most MAX_TRACKED_TABS tabs however many report', () => {
    let now = 0
    const v = new SiteVisibility(1000, () => now)
    for (let i = 0; i < 10_000; i++) {
      now = i
      v.report(`tab-${i}`, true)
    }
    expect(v.size).toBe(MAX_TRACKED_TABS)
    expect(v.anyVisible(false)).toBe(true)
  })
})
