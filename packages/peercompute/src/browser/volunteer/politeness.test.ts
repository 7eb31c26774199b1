import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type BatteryLike, type PolitenessEnv, PolitenessMonitor, type PolitenessState } from './politeness.js'

/** A page whose visibility, battery, data saving and CPU pressure the test sets. */
function fakePage() {
  const doc = new EventTarget() as EventTarget & { visibilityState: DocumentVisibilityState }
  doc.visibilityState = 'visible'
  const battery = Object.assign(new EventTarget(), { level: 0.9, charging: false }) as EventTarget & BatteryLike
  const connection = Object.assign(new EventTarget(), { saveData: false })
  let pressure: ((records: Array<{ state: string }>) => void) | undefined
  const env: PolitenessEnv = {
    document: doc as unknown as PolitenessEnv['document'],
    navigator: { getBattery: async () => battery, connection },
    PressureObserver: class {
      constructor(cb: (records: Array<{ state: string }>) => void) {
        pressure = cb
      }
      async observe() {}
      disconnect() {}
    },
  }
  return {
    env,
    hide(hidden: boolean) {
      doc.visibilityState = hidden ? 'hidden' : 'visible'
      doc.dispatchEvent(new Event('visibilitychange'))
    },
    battery(level: number, charging: boolean) {
      Object.assign(battery, { level, charging })
      battery.dispatchEvent(new Event('levelchange'))
    },
    saveData(on: boolean) {
      connection.saveData = on
      connection.dispatchEvent(new Event('change'))
    },
    pressure: (state: string) => pressure?.([{ state }]),
  }
}

describe('PolitenessMonitor', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  const start = async (resumeAfterMs = 30_000) => {
    const page = fakePage()
    const seen: PolitenessState[] = []
    const m = new PolitenessMonitor({ resumeAfterMs, env: page.env, onChange: (s) => seen.push(s) })
    m.start()
    await vi.advanceTimersByTimeAsync(0) // the battery answers
    return { page, m, seen }
  }

  it('works at once when conditions are good, pauses at once when the tab hides, resumes only after 30 s good', async () => {
    const { page, m } = await start()
    expect(m.state).toEqual({ paused: false, reasons: [] })
    page.hide(true)
    expect(m.state).toEqual({ paused: true, reasons: ['hidden'] })
    page.hide(false)
    await vi.advanceTimersByTimeAsync(29_999)
    expect(m.state.paused).toBe(true)
    await vi.advanceTimersByTimeAsync(1)
    expect(m.state).toEqual({ paused: false, reasons: [] })
    m.stop()
  })

  it('a bad spell during the wait starts the 30 s again', async () => {
    const { page, m } = await start()
    page.hide(true)
    page.hide(false)
    await vi.advanceTimersByTimeAsync(20_000)
    page.hide(true)
    page.hide(false)
    await vi.advanceTimersByTimeAsync(20_000)
    expect(m.state.paused).toBe(true)
    await vi.advanceTimersByTimeAsync(10_000)
    expect(m.state.paused).toBe(false)
    m.stop()
  })

  it('pauses on battery below 20% while not charging, on saveData, on serious or critical pressure', async () => {
    const { page, m } = await start(1000)
    page.battery(0.15, false)
    expect(m.state.reasons).toEqual(['battery'])
    page.battery(0.15, true)
    page.saveData(true)
    expect(m.state.reasons).toEqual(['save-data'])
    page.saveData(false)
    page.pressure('fair')
    expect(m.state).toEqual({ paused: true, reasons: [] })
    page.pressure('serious')
    expect(m.state.reasons).toEqual(['pressure'])
    page.pressure('critical')
    expect(m.state.reasons).toEqual(['pressure'])
    page.pressure('nominal')
    await vi.advanceTimersByTimeAsync(1000)
    expect(m.state).toEqual({ paused: false, reasons: [] })
    m.stop()
  })

  it('the pause button pauses at once and resumes at once when nothing else is bad', async () => {
    const { page, m } = await start()
    m.setUserPaused(true)
    expect(m.state).toEqual({ paused: true, reasons: ['user'] })
    m.setUserPaused(false)
    expect(m.state.paused).toBe(false)
    page.hide(true)
    m.setUserPaused(true)
    m.setUserPaused(false)
    expect(m.state).toEqual({ paused: true, reasons: ['hidden'] })
    m.stop()
  })

  it('a page that starts hidden starts paused; stop() ends every listener and timer', async () => {
    const page = fakePage()
    page.hide(true)
    const seen: PolitenessState[] = []
    const m = new PolitenessMonitor({ env: page.env, onChange: (s) => seen.push(s) })
    m.start()
    expect(m.state).toEqual({ paused: true, reasons: ['hidden'] })
    page.hide(false)
    m.stop()
    const n = seen.length
    await vi.advanceTimersByTimeAsync(60_000)
    page.hide(true)
    expect(seen.length).toBe(n)
    expect(vi.getTimerCount()).toBe(0)
  })
})
