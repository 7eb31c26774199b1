// The volunteer script tag, as a site ships it: the BUILT IIFE
// (packages/peercompute/dist/volunteer/, `npm run build`) on the plain page
// examples/volunteer/, served as static files by node:http, in Chromium, with
// a relay and a Node submitter. Runs only in a loopback-only namespace (WebRTC).
import * as kernels from '@peercompute/kernels'
import type { NodeKernel } from 'peercompute'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loopbackOnly, type testRelay, waitFor } from '../test/integration/helpers.ts'
import { haveChromium, launchChromium, setHidden } from './browser.ts'
import { startRelayAndSubmitter } from './fixtures.ts'
import { type StaticServer, serveData, serveStatic, withRelay } from './static-server.ts'

/** What the tests read of the page: the loader's global. */
interface VolunteerGlobal {
  volunteer(options: { consent?: 'granted' }): unknown
  instance?: {
    state: string
    stats(): {
      state: string
      role: string
      tasks: number
      cpuSeconds: number
      refused: number
      peerId?: string
      reasons: string[]
    }
  }
}
declare global {
  interface Window {
    PeerCompute: VolunteerGlobal
  }
}

const PAGE = '/examples/volunteer/'

describe.skipIf(!haveChromium || !loopbackOnly)('the volunteer script tag (built, static files)', () => {
  let browser: Browser
  let relay: Awaited<ReturnType<typeof testRelay>>
  let submitter: NodeKernel
  let site: StaticServer
  let data: Awaited<ReturnType<typeof serveData>>
  let bytes: Uint8Array
  const cleanups: Array<() => Promise<unknown> | unknown> = []

  beforeAll(async () => {
    ;({ relay, submitter } = await startRelayAndSubmitter(cleanups))
    bytes = new Uint8Array(48 * 1024 * 1024)
    for (let i = 0, x = 0x9e3779b9; i < bytes.length; i++) {
      x = (x * 1103515245 + 12345) >>> 0
      bytes[i] = x >>> 24
    }
    data = await serveData(bytes)
    cleanups.push(() => data.close())
    // the page's tag, pointed at this test's relay; tests allow loopback peers and data, no STUN, short hysteresis
    site = await serveStatic((path, html) =>
      path === PAGE
        ? withRelay(
            html,
            relay.wsAddr,
            `data-dial-private data-allow-private data-allow-origins="${data.origin}" data-ice-servers="" data-resume-after-ms="300" data-workers="1"`,
          )
        : html,
    )
    cleanups.push(() => site.close())
    browser = await launchChromium()
    cleanups.push(() => browser.close())
  })
  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  /** A fresh visitor (its own storage) on the example page, with every request and WebSocket it opens counted. */
  const visit = async (shared?: BrowserContext) => {
    const context: BrowserContext = shared ?? (await browser.newContext())
    if (!shared) {
      cleanups.push(() => context.close())
      await context.grantPermissions(['camera', 'microphone'], { origin: site.url })
    }
    const requests: string[] = []
    const sockets: string[] = []
    context.on('request', (r) => requests.push(r.url()))
    // this shared 2-core machine is under real CPU pressure while tests run, and the volunteer
    // rightly pauses for it: these tests watch the other conditions
    await context.addInitScript(() => {
      delete (window as { PressureObserver?: unknown }).PressureObserver
    })
    const page: Page = await context.newPage()
    page.on('websocket', (ws) => sockets.push(ws.url()))
    page.on('pageerror', (e) => console.error('page error:', e.message))
    await page.goto(`${site.url}${PAGE}`)
    return { context, page, requests, sockets }
  }
  const state = (page: Page) => page.evaluate(() => window.PeerCompute.instance?.stats())
  const registered = () => [...relay.relay.registry.peers.keys()].map(String)
  // `only`: the volunteer alone may run it (else whether it gets pieces races with the submitter's own cores)
  const crcJob = (pieces: number, only?: string) =>
    submitter.compute.submit({
      op: 'crc32c',
      data: { url: data.href, length: bytes.length },
      pieceBytes: bytes.length / pieces,
      ...(only ? { peers: [only], includeLocal: false } : {}),
    })
  const ranOn = (r: { pieces: Array<{ peer: string }> }, peer: string) => r.pieces.filter((p) => p.peer === peer).length

  it('opens no connection before consent; after "allow" it joins and runs pieces of a Node job correctly; after withdrawal no task starts', async () => {
    const { page, requests, sockets } = await visit()
    await page.waitForSelector('[data-pc="banner"]')
    expect(await page.getAttribute('[data-pc="banner"]', 'role')).toBe('region')
    expect(await page.evaluate(() => window.PeerCompute.instance?.state)).toBe('asking')
    // before consent: the page and the loader, nothing else; no socket; the relay knows only the submitter
    expect(requests.map((u) => new URL(u).pathname).sort()).toEqual(
      [PAGE, '/packages/peercompute/dist/volunteer/peercompute.volunteer.js'].sort(),
    )
    expect(sockets).toEqual([])
    expect(site.requests.filter((p) => p.includes('volunteer.node'))).toEqual([])
    expect(registered()).toEqual([submitter.peerId])

    // keyboard: Tab reaches "allow" and Enter answers
    await page.focus('[data-pc="allow"]')
    await page.keyboard.press('Enter')
    await page.waitForFunction(() => window.PeerCompute.instance?.state === 'running', undefined, { timeout: 30_000 })
    const id = (await state(page))?.peerId as string
    expect(sockets.length).toBeGreaterThan(0)
    await waitFor('the relay registers the volunteer', () => registered().includes(id), 30_000)
    await waitFor(
      'the submitter sees the volunteer',
      () => submitter.getStatus().peers.some((p) => p.id === id),
      30_000,
    )

    const r = await crcJob(24, id).result
    expect(r.result).toBe(kernels.crc32c(bytes))
    expect(ranOn(r, id)).toBeGreaterThan(0)
    const given = await state(page)
    expect(given?.tasks).toBeGreaterThanOrEqual(ranOn(r, id))
    expect(given?.cpuSeconds).toBeGreaterThan(0)
    // without data-trust: no sandbox code is loaded and no signed code is offered
    expect(site.requests.filter((p) => p.includes('sandbox-entry'))).toEqual([])
    expect(
      submitter
        .getStatus()
        .peers.find((p) => p.id === id)
        ?.caps.kernels.some((k) => k.startsWith('signed:')),
    ).toBe(false)
    expect(await page.textContent('[data-pc="given"]')).toContain(`${given?.tasks} tasks`)

    await page.click('[data-pc="withdraw"]')
    await page.waitForFunction(() => window.PeerCompute.instance?.state === 'withdrawn')
    const before = (await state(page))?.tasks
    const after = await crcJob(8).result
    expect(after.result).toBe(kernels.crc32c(bytes))
    expect(ranOn(after, id)).toBe(0)
    expect((await state(page))?.tasks).toBe(before)
    // remembered: a reload asks nothing and starts nothing
    await page.reload()
    await page.waitForFunction(() => window.PeerCompute.instance?.state === 'declined')
    expect(await page.$('[data-pc="banner"]')).toBeNull()
  })

  it('a hidden tab pauses (no task starts while hidden) and resumes once visible again', async () => {
    const { page } = await visit()
    await page.waitForSelector('[data-pc="banner"]')
    // the site's own consent flow: it asked, the script takes its word and remembers nothing itself
    await page.evaluate(() => window.PeerCompute.volunteer({ consent: 'granted' }))
    expect(await page.$('[data-pc="banner"]')).toBeNull()
    expect(await page.evaluate(() => localStorage.length)).toBe(0)
    await page.waitForFunction(() => window.PeerCompute.instance?.state === 'running', undefined, { timeout: 30_000 })
    const id = (await state(page))?.peerId as string
    await waitFor(
      'the submitter sees the volunteer',
      () => submitter.getStatus().peers.some((p) => p.id === id),
      30_000,
    )
    // Headless Chromium keeps every page visible (another tab, a minimised window and CDP's focus
    // and lifecycle emulation leave visibilityState alone): the test plays the browser's part.
    await setHidden(page, true)
    await page.waitForFunction(() => window.PeerCompute.instance?.state === 'paused')
    expect((await state(page))?.reasons).toContain('hidden')
    const before = (await state(page))?.tasks
    const r = await crcJob(12).result
    expect(r.result).toBe(kernels.crc32c(bytes))
    expect(ranOn(r, id)).toBe(0)
    expect((await state(page))?.tasks).toBe(before)
    await setHidden(page, false)
    await page.waitForFunction(() => window.PeerCompute.instance?.state === 'running', undefined, { timeout: 10_000 })
  })

  it('three tabs of one site run one peer; when the leader tab closes another runs the same peer; withdrawing in one tab stops all', async () => {
    const earlier = new Set(registered()) // the other tests' volunteers
    const fresh = () => registered().filter((p) => !earlier.has(p))
    const first = await visit()
    await first.page.click('[data-pc="allow"]')
    await first.page.waitForFunction(() => window.PeerCompute.instance?.state === 'running', undefined, {
      timeout: 30_000,
    })
    const id = (await state(first.page))?.peerId as string
    // the answer is the site's: the other tabs start without asking, and follow
    const others = [await visit(first.context), await visit(first.context)]
    for (const t of others) {
      await t.page.waitForFunction(
        (peer) => {
          const s = window.PeerCompute.instance?.stats()
          return s?.role === 'follower' && s.peerId === peer
        },
        id,
        { timeout: 30_000 },
      )
      expect(await t.page.$('[data-pc="banner"]')).toBeNull()
    }
    expect((await state(first.page))?.role).toBe('leader')
    await waitFor('the relay registers the volunteer', () => registered().includes(id), 30_000)
    expect(fresh()).toEqual([id])

    await first.page.close()
    await waitFor('another tab leads, as the same peer', () => fresh().length === 1 && fresh()[0] === id, 30_000)
    const leader = await Promise.any(
      others.map(async (t) => {
        await t.page.waitForFunction(() => window.PeerCompute.instance?.stats().role === 'leader', undefined, {
          timeout: 30_000,
        })
        return t
      }),
    )
    await leader.page.waitForFunction(() => window.PeerCompute.instance?.state === 'running', undefined, {
      timeout: 30_000,
    })
    expect((await state(leader.page))?.peerId).toBe(id)
    await waitFor(
      'the submitter sees the volunteer again',
      () => submitter.getStatus().peers.some((p) => p.id === id && p.connected !== null),
      30_000,
    )
    const r = await crcJob(16, id).result
    expect(r.result).toBe(kernels.crc32c(bytes))

    const follower = others.find((t) => t !== leader) as (typeof others)[number]
    await follower.page.click('[data-pc="withdraw"]')
    for (const t of others) {
      await t.page.waitForFunction(() => window.PeerCompute.instance?.state === 'withdrawn', undefined, {
        timeout: 10_000,
      })
    }
    const before = (await state(leader.page))?.tasks
    const after = await crcJob(8).result
    expect(ranOn(after, id)).toBe(0)
    expect((await state(leader.page))?.tasks).toBe(before)
  })
})
