// The volunteer script tag with `data-trust`: the BUILT IIFE on the plain page
// examples/volunteer/ (static files), in Chromium. The visitor's node runs a
// Node submitter's map job of code signed by the trusted key in its sandboxes
// (an opaque-origin iframe each), under the volunteer's CPU cap and counters,
// and refuses code signed by another key. Runs only in a loopback-only
// namespace (WebRTC).
import { generatePublisherKey, importPublisherKey, type NodeKernel, type PublisherKey, signBundle } from 'peercompute'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loopbackOnly, startNodes, testRelay, waitFor } from '../test/integration/helpers.ts'
import { haveChromium, launchChromium } from './browser.ts'
import { type StaticServer, serveStatic, withRelay } from './static-server.ts'

// the test reads the loader's global, `window.PeerCompute` (its type is declared in volunteer.e2e.test.ts)

const PAGE = '/examples/volunteer/'
const INC = new TextEncoder().encode('export default (x) => x + 1\n')

describe.skipIf(!haveChromium || !loopbackOnly)('a volunteer with data-trust (built, static files)', () => {
  let browser: Browser
  let relay: Awaited<ReturnType<typeof testRelay>>
  let submitter: NodeKernel
  let site: StaticServer
  let trusted: { key: PublisherKey; publicKey: string }
  let stranger: PublisherKey
  let page: Page
  let id: string
  const cleanups: Array<() => Promise<unknown> | unknown> = []

  beforeAll(async () => {
    const [a, b] = await Promise.all([generatePublisherKey(), generatePublisherKey()])
    trusted = { key: await importPublisherKey(a.secretKeyPem), publicKey: a.publicKey }
    stranger = await importPublisherKey(b.secretKeyPem)
    relay = await testRelay()
    cleanups.push(() => relay.stop())
    ;[submitter] = await startNodes(1, relay.wsAddr)
    cleanups.push(() => submitter.stop())
    site = await serveStatic((path, html) =>
      path === PAGE
        ? withRelay(
            html,
            relay.wsAddr,
            `data-trust="${trusted.publicKey}" data-dial-private data-allow-private data-ice-servers="" data-resume-after-ms="300" data-workers="1"`,
          )
        : html,
    )
    cleanups.push(() => site.close())
    browser = await launchChromium()
    cleanups.push(() => browser.close())
    const context: BrowserContext = await browser.newContext()
    cleanups.push(() => context.close())
    await context.grantPermissions(['camera', 'microphone'], { origin: site.url })
    // this shared machine is under real CPU pressure while tests run, and the volunteer rightly pauses for it
    await context.addInitScript(() => {
      delete (window as { PressureObserver?: unknown }).PressureObserver
    })
    page = await context.newPage()
    page.on('pageerror', (e) => console.error('page error:', e.message))
    await page.goto(`${site.url}${PAGE}`)
    await page.waitForSelector('[data-pc="banner"]')
    await page.click('[data-pc="allow"]')
    await page.waitForFunction(() => window.PeerCompute.instance?.state === 'running', undefined, { timeout: 30_000 })
    id = (await page.evaluate(() => window.PeerCompute.instance?.stats().peerId)) as string
    await waitFor(
      'the submitter sees the volunteer, trusting the key',
      () =>
        submitter
          .getStatus()
          .peers.some((p) => p.id === id && p.connected && p.caps.kernels.includes(`signed:${trusted.publicKey}`)),
      30_000,
    )
  }, 90_000)
  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  const tasks = async () => (await page.evaluate(() => window.PeerCompute.instance?.stats().tasks)) as number

  it('runs a map job of code signed by the trusted key in a sandbox, counted as the visitor’s tasks', async () => {
    expect(site.requests.some((p) => p.includes('sandbox-entry'))).toBe(true)
    const before = await tasks()
    const bundle = await signBundle(INC, { name: 'inc', version: '1.0.0', kind: 'kernel' }, trusted.key)
    const job = submitter.compute.map({ code: bundle, inputs: [1, 2, 3], peers: [id], includeLocal: false })
    expect(await job.result).toEqual([2, 3, 4])
    expect(job.batches.length).toBeGreaterThan(0)
    expect(job.batches.every((b) => b.peer === id && b.platform === 'browser')).toBe(true)
    // the kernel ran in the page's sandbox (an opaque-origin iframe), under the volunteer's duty cycle
    expect(await page.evaluate(() => document.querySelectorAll('iframe[sandbox]').length)).toBeGreaterThan(0)
    expect(await tasks()).toBeGreaterThanOrEqual(before + job.batches.length)
  })

  it('refuses code signed by another key (not chosen) or tampered (UntrustedCodeError); runs nothing of it and serves on', async () => {
    const before = await tasks()
    const foreign = await signBundle(INC, { name: 'inc', version: '1.0.1', kind: 'kernel' }, stranger)
    const bad = submitter.compute.map({
      code: foreign,
      inputs: [1],
      peers: [id],
      includeLocal: false,
      maxAttempts: 1,
    })
    const err = await bad.result.then(
      () => undefined,
      (e: Error) => e,
    )
    // the volunteer announces only the keys it trusts: the submitter does not choose it
    expect(err?.message).toMatch(/no peer runs @map/)
    expect(bad.batches.some((b) => b.peer === id)).toBe(false)
    // a submitter that sends anyway (here: the trusted key's bundle with a byte of the code changed) is refused by the volunteer
    const good = await signBundle(INC, { name: 'inc', version: '1.0.3', kind: 'kernel' }, trusted.key)
    const tampered = good.slice()
    tampered[tampered.length - 3] ^= 1
    const forged = submitter.compute.map({
      code: tampered,
      inputs: [1],
      peers: [id],
      includeLocal: false,
      maxAttempts: 1,
    })
    const refused = await forged.result.then(
      () => undefined,
      (e: Error) => e,
    )
    expect(refused?.message).toMatch(/reported UntrustedCodeError/)
    expect(await tasks()).toBe(before)
    const ok = submitter.compute.map({
      code: await signBundle(INC, { name: 'inc', version: '1.0.2', kind: 'kernel' }, trusted.key),
      inputs: [10],
      peers: [id],
      includeLocal: false,
    })
    expect(await ok.result).toEqual([11])
  })
})
