// runOncePerSite on Node's own Web Locks (navigator.locks) and BroadcastChannel,
// which behave as the browser's do between the "tabs" of one process: each
// SiteNode here plays one tab.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { InvalidOptionError, TabCoordinationUnavailableError } from '../../../core/errors.js'
import type { TabCommand } from './messages.js'
import { runOncePerSite, type SiteNode, type SiteNodeHandle } from './run-once-per-site.js'

const sites: SiteNode[] = []
afterEach(async () => {
  await Promise.all(sites.splice(0).map((s) => s.stop()))
})

/** A fake node: counts starts and stops, records commands, reports which tab runs it. */
function fakeNodes() {
  const log = { starts: 0, stops: 0, running: 0, commands: [] as TabCommand[] }
  const start = async (): Promise<SiteNodeHandle> => {
    const n = ++log.starts
    log.running++
    return {
      stop: () => {
        log.stops++
        log.running--
      },
      status: () => ({ node: n, commands: log.commands }),
      command: (c) => {
        log.commands.push(c)
      },
    }
  }
  return { log, start }
}

let counter = 0
const uniqueName = () => `test-${process.pid}-${++counter}-${Math.random().toString(36).slice(2)}`

function tab(name: string, start: () => Promise<SiteNodeHandle>, mayStart?: () => boolean): SiteNode {
  const s = runOncePerSite({ name, start, stateIntervalMs: 50, mayStart })
  sites.push(s)
  return s
}

/** Three tabs of a new site, opened in turn: `a` leads (its node started), then `b` and `c` follow. */
async function threeTabs(start: () => Promise<SiteNodeHandle>, mayStart?: () => boolean) {
  const name = uniqueName()
  const a = tab(name, start, mayStart)
  await vi.waitFor(() => expect(a.role).toBe('leader'))
  const b = tab(name, start, mayStart)
  const c = tab(name, start, mayStart)
  await vi.waitFor(() => expect([b.role, c.role]).toEqual(['follower', 'follower']))
  return { a, b, c }
}

describe('runOncePerSite', () => {
  it('one tab of three leads and runs the node; the others follow and get its state', async () => {
    const { log, start } = fakeNodes()
    const { a, b, c } = await threeTabs(start)
    await vi.waitFor(() => expect(b.state).toEqual({ node: 1, commands: [] }))
    await vi.waitFor(() => expect(c.state).toEqual({ node: 1, commands: [] }))
    expect(b.leaderTab).toBe(a.tabId)
    expect(log.starts).toBe(1)
    expect(log.running).toBe(1)
  })

  it('a follower’s command reaches the leader’s node; every tab sees it', async () => {
    const { log, start } = fakeNodes()
    const { a, b, c } = await threeTabs(start)
    const seen: TabCommand[] = []
    a.addEventListener('command', (e) => seen.push(e.detail))
    c.addEventListener('command', (e) => seen.push(e.detail))
    b.send('pause')
    await vi.waitFor(() => expect(log.commands).toEqual(['pause']))
    await vi.waitFor(() => expect(c.state).toEqual({ node: 1, commands: ['pause'] }))
    expect(seen.sort()).toEqual(['pause', 'pause'])
  })

  it('when the leader stops, a follower takes over and starts the node once', async () => {
    const { log, start } = fakeNodes()
    const { a, b, c } = await threeTabs(start)
    await a.stop()
    expect(a.role).toBe('stopped')
    await vi.waitFor(() => expect([b.role, c.role].sort()).toEqual(['follower', 'leader']))
    const follower = b.role === 'follower' ? b : c
    await vi.waitFor(() => expect(follower.state).toEqual({ node: 2, commands: [] }))
    expect(log).toMatchObject({ starts: 2, stops: 1, running: 1 })
  })

  it('withdraw stops every tab, and no tab takes over', async () => {
    const { log, start } = fakeNodes()
    // the visitor's answer, as localStorage would keep it for every tab
    let consent = true
    const mayStart = () => consent
    const { a, b, c } = await threeTabs(start, mayStart)
    consent = false
    c.send('withdraw')
    await vi.waitFor(() => expect([a.role, b.role, c.role]).toEqual(['stopped', 'stopped', 'stopped']))
    expect(log).toMatchObject({ starts: 1, stops: 1, running: 0, commands: ['withdraw'] })
  })

  it('a node that fails to start gives the lock up with an error event; the next tab tries', async () => {
    const name = uniqueName()
    let tries = 0
    const flaky = async (): Promise<SiteNodeHandle> => {
      if (++tries === 1) throw new Error('relay unreachable')
      return { stop: () => {}, status: () => ({ tries }) }
    }
    const a = tab(name, flaky)
    const errors: string[] = []
    a.addEventListener('error', (e) => errors.push(e.detail.message))
    const b = tab(name, flaky)
    await vi.waitFor(() => expect(b.role).toBe('leader'))
    expect(a.role).toBe('stopped')
    expect(errors).toEqual(['relay unreachable'])
    expect(b.state).toEqual({ tries: 2 })
  })

  it('a status that is not JSON within the budget is an error event, not a broken channel', async () => {
    const name = uniqueName()
    const a = tab(name, async () => ({ stop: () => {}, status: () => ({ big: 'x'.repeat(100_000) }) }))
    const error = await new Promise<Error>((resolve) => a.addEventListener('error', (e) => resolve(e.detail)))
    expect(error).toBeInstanceOf(InvalidOptionError)
    expect(a.role).toBe('leader')
    expect(a.state).toBeUndefined()
  })

  it('stop while the node is starting: the node is stopped before the lock is given up', async () => {
    const name = uniqueName()
    const order: string[] = []
    let go!: () => void
    const gate = new Promise<void>((r) => {
      go = r
    })
    const a = tab(name, async () => {
      await gate
      return { stop: () => void order.push('node stopped'), status: () => ({}) }
    })
    await vi.waitFor(() => expect(a.role).toBe('leader'))
    const stopped = a.stop()
    const b = tab(name, async () => {
      order.push('next node started')
      return { stop: () => {}, status: () => ({}) }
    })
    go()
    await stopped
    await vi.waitFor(() => expect(b.role).toBe('leader'))
    expect(order).toEqual(['node stopped', 'next node started'])
  })

  it('checks its options', () => {
    const start = async () => ({ stop: () => {}, status: () => ({}) })
    expect(() => runOncePerSite({ name: '', start })).toThrow(InvalidOptionError)
    expect(() => runOncePerSite({ name: 'x'.repeat(129), start })).toThrow(InvalidOptionError)
    expect(() => runOncePerSite({ name: 'ok', start, stateIntervalMs: 1 })).toThrow(InvalidOptionError)
    expect(() => runOncePerSite({ name: 'ok', start: 'nope' as never })).toThrow(InvalidOptionError)
  })

  it('a page without Web Locks (an insecure context) is told so at once', () => {
    vi.stubGlobal('navigator', {})
    try {
      expect(() => runOncePerSite({ name: 'x', start: async () => ({ stop() {}, status: () => ({}) }) })).toThrow(
        TabCoordinationUnavailableError,
      )
    } finally {
      vi.unstubAllGlobals()
    }
  })

  it('an aborted signal stops the tab’s part', async () => {
    const name = uniqueName()
    const { log, start } = fakeNodes()
    const ac = new AbortController()
    const a = runOncePerSite({ name, start, signal: ac.signal })
    sites.push(a)
    await vi.waitFor(() => expect(a.role).toBe('leader'))
    await vi.waitFor(() => expect(log.running).toBe(1))
    ac.abort()
    await vi.waitFor(() => expect(a.role).toBe('stopped'))
    expect(log.running).toBe(0)
  })
})

/** A tab's visibility the test flips. */
function fakeVisibility(initial: boolean) {
  let visible = initial
  const fns = new Set<(v: boolean) => void>()
  return {
    source: {
      visible: () => visible,
      subscribe: (fn: (v: boolean) => void) => {
        fns.add(fn)
        return () => fns.delete(fn)
      },
    },
    set(v: boolean) {
      visible = v
      for (const fn of fns) fn(v)
    },
  }
}

describe('siteVisible: one node, many tabs', () => {
  it('the leader counts the site visible while any tab is; a follower that hides or goes away stops counting', async () => {
    const name = uniqueName()
    const { start } = fakeNodes()
    const leaderVis = fakeVisibility(false)
    const a = runOncePerSite({ name, start, stateIntervalMs: 50, visibility: leaderVis.source })
    sites.push(a)
    await vi.waitFor(() => expect(a.role).toBe('leader'))
    expect(a.siteVisible).toBe(false)
    const changes: boolean[] = []
    a.addEventListener('visibility', (e) => changes.push(e.detail))

    const bVis = fakeVisibility(true)
    const b = runOncePerSite({ name, start, stateIntervalMs: 50, visibility: bVis.source })
    sites.push(b)
    await vi.waitFor(() => expect(a.siteVisible).toBe(true))
    bVis.set(false)
    await vi.waitFor(() => expect(a.siteVisible).toBe(false))
    bVis.set(true)
    await vi.waitFor(() => expect(a.siteVisible).toBe(true))
    await b.stop() // a visible tab closing says so as it goes
    await vi.waitFor(() => expect(a.siteVisible).toBe(false))
    leaderVis.set(true)
    expect(a.siteVisible).toBe(true)
    expect(changes).toEqual([true, false, true, false, true])
  })

  it('a visible follower that falls silent stops counting after three intervals', async () => {
    const name = uniqueName()
    const { start } = fakeNodes()
    const a = runOncePerSite({ name, start, stateIntervalMs: 50, visibility: fakeVisibility(false).source })
    sites.push(a)
    await vi.waitFor(() => expect(a.role).toBe('leader'))
    // a "tab" that reports once and is never heard from again (crashed, frozen)
    const ghost = new BroadcastChannel(`peercompute:site-node:${name}`)
    ghost.postMessage({ v: 1, type: 'presence', from: 'ghosttab01', visible: true })
    await vi.waitFor(() => expect(a.siteVisible).toBe(true))
    ghost.close()
    await vi.waitFor(() => expect(a.siteVisible).toBe(false))
  })

  it('a new leader learns the followers’ visibility', async () => {
    const name = uniqueName()
    const { start } = fakeNodes()
    const a = runOncePerSite({ name, start, stateIntervalMs: 50, visibility: fakeVisibility(false).source })
    sites.push(a)
    await vi.waitFor(() => expect(a.role).toBe('leader'))
    const b = runOncePerSite({ name, start, stateIntervalMs: 50, visibility: fakeVisibility(false).source })
    const c = runOncePerSite({ name, start, stateIntervalMs: 50, visibility: fakeVisibility(true).source })
    sites.push(b, c)
    await vi.waitFor(() => expect(a.siteVisible).toBe(true))
    await a.stop()
    await vi.waitFor(() => expect(b.role).toBe('leader'))
    await vi.waitFor(() => expect(b.siteVisible).toBe(true))
  })
})
