// The operator dashboard in Chromium, served by a real relay from a real `vite build`: the peers, capacity and
// mesh it shows equal the relay's API, its charts receive points while jobs run on real Node peers, and peers'
// addresses appear only with the token. Runs only in a lo-only namespace (the Node peers may use WebRTC).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { type Relay, startRelay } from '@peercompute/relay'
import { createLibp2p, type Libp2p } from 'libp2p'
import {
  decodeRegistryMessage,
  encodeRegistryMessage,
  FramedStream,
  type NodeKernel,
  REGISTRY_MAX_FRAME,
  REGISTRY_PROTOCOL,
  type RegistryMessage,
} from 'peercompute'
import type { Browser, Page } from 'playwright-core'
import { build } from 'vite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DashboardPage } from '../packages/dashboard/src/main.ts'
import { loopbackOnly, startNodes, waitFor } from '../test/integration/helpers.ts'
import { haveChromium, launchChromium } from './browser.ts'
import { tasksChart } from './dashboard-charts.ts'

const DASHBOARD = resolve(import.meta.dirname, '..', 'packages', 'dashboard')
const RESULTS = resolve(import.meta.dirname, '..', 'test-results')

/** The page's test hook (window.dashboard). */
export type { DashboardPage }

/** A gateway-like peer announced by hand over the registry protocol (a GPU, a price, an address). */
async function announceGateway(relay: Relay): Promise<{ node: Libp2p; framed: FramedStream<RegistryMessage> }> {
  const node = await createLibp2p({
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: async () => false },
  })
  const addr = relay.multiaddrs.find((m) => !m.toString().includes('/ws'))?.toString() as string
  const stream = await node.dialProtocol(multiaddr(addr), REGISTRY_PROTOCOL)
  const framed = new FramedStream(
    stream,
    { encode: encodeRegistryMessage, decode: decodeRegistryMessage, maxFrame: REGISTRY_MAX_FRAME },
    { onMessage: () => {}, onClose: () => {} },
  )
  await framed.send({
    type: 'announce',
    addrs: ['/ip4/127.0.0.1/tcp/4999'],
    caps: {
      cores: 16,
      memoryMb: 128,
      gpu: true,
      kernels: ['crc32c'],
      substrate: 'gateway',
      price: { model: 'per-invocation', usd: 0.0000002 },
    },
    load: { running: 0, queued: 0 },
  })
  return { node, framed }
}

/** Polls until the matcher passes (vitest's default of 1 s is too short for a mesh on 2 shared cores). */
const poll = <T>(fn: () => T | Promise<T>, timeout = 20_000) => expect.poll(fn, { timeout })

describe.skipIf(!haveChromium || !loopbackOnly)('the dashboard in Chromium, served by a relay', () => {
  let outDir: string
  let relay: Relay
  let nodes: NodeKernel[]
  let gateway: Awaited<ReturnType<typeof announceGateway>>
  let browser: Browser
  let page: Page
  const pageErrors: string[] = []

  beforeAll(async () => {
    // the real production build, from the package's own config
    outDir = mkdtempSync(join(tmpdir(), 'pc-dashboard-'))
    await build({
      configFile: join(DASHBOARD, 'vite.config.ts'),
      logLevel: 'warn',
      build: { outDir, emptyOutDir: true },
    })
    relay = await startRelay({ privateKey: await generateKeyPair('Ed25519'), dashboardDir: outDir })
    const tcpAddr = relay.multiaddrs.find((m) => !m.toString().includes('/ws'))?.toString() as string
    nodes = await startNodes(2, tcpAddr)
    gateway = await announceGateway(relay)
    await waitFor('the relay has 3 peers', () => relay.registry.peers.size === 3)
    browser = await launchChromium()
    page = await browser.newPage({ viewport: { width: 1280, height: 1400 } })
    page.on('pageerror', (e) => pageErrors.push(e.message))
    await page.goto(`${relay.httpUrl}/`)
    await page.waitForFunction(() => window.dashboard?.snapshot !== null && window.dashboard?.mode !== null)
  }, 120_000)

  afterAll(async () => {
    await browser?.close()
    await gateway?.node.stop()
    await Promise.all((nodes ?? []).map((n) => n.stop()))
    await relay?.stop()
    if (outDir) rmSync(outDir, { recursive: true, force: true })
  })

  const text = (sel: string) => page.locator(sel).innerText()

  it('shows the peer count and capacity totals that the API reports', async () => {
    const capacity = await (await fetch(`${relay.httpUrl}/api/capacity`)).json()
    expect(capacity.total).toMatchObject({ peers: 3, gpus: 1 })
    expect(capacity.bySubstrate.gateway).toMatchObject({ peers: 1, cores: 16, gpus: 1 })
    expect(capacity.bySubstrate.node).toMatchObject({ peers: 2, gpus: 0 })
    await poll(() => text('#total-peers')).toBe(String(capacity.total.peers))
    expect(await text('#total-cores')).toBe(String(capacity.total.cores))
    expect(await text('#total-gpus')).toBe(String(capacity.total.gpus))
    expect(await text('#peer-count')).toBe(`(${capacity.total.peers})`)
    expect(await page.locator('#peers tbody tr').count()).toBe(capacity.total.peers)
    for (const [substrate, c] of Object.entries(capacity.bySubstrate as Record<string, { peers: number }>)) {
      const row = page.locator(`#capacity tbody tr[data-substrate="${substrate}"]`)
      expect(await row.locator('td').first().innerText()).toBe(String(c.peers))
    }
    // the mesh graph draws one circle a peer
    expect(await page.locator('#mesh circle.peer').count()).toBe(3)
    // a plain relay has no job API: the jobs section stays hidden
    expect(await page.evaluate(() => window.dashboard.mode)).toBe('relay')
    expect(await page.locator('#jobs-section').isHidden()).toBe(true)
  })

  it('its charts receive new points while jobs run on the mesh, and tasks/s rises above 0', async () => {
    // a point taken after the jobs start, with tasks/s above 0 (read through uPlot's own data)
    const { points, busiestSince } = tasksChart(page)
    const before = await points()
    const data = new Uint8Array(4 << 20).map((_, i) => i * 31)
    let running = true
    const jobs: Promise<unknown>[] = []
    // jobs one after another until the page has seen them
    const loop = (async () => {
      while (running) {
        const job = nodes[0].compute.submit({ op: 'crc32c', data, pieceBytes: 256 << 10 })
        jobs.push(job.result)
        await job.result
      }
    })()
    try {
      await poll(busiestSince, 30_000).toBeGreaterThan(0)
      expect(await points()).toBeGreaterThan(before)
      const bytes = await page.evaluate(() => Math.max(...(window.dashboard.charts.bytes.plot.data[1] as number[])))
      expect(bytes).toBeGreaterThan(0)
    } finally {
      running = false
      await loop
    }
    expect(jobs.length).toBeGreaterThan(0)
    mkdirSync(RESULTS, { recursive: true })
    await page.screenshot({ path: join(RESULTS, 'dashboard-relay.png'), fullPage: true })
  })

  it('shows peer addresses only with the token, and never puts them in the page without it', async () => {
    await poll(() => page.locator('#peers tbody').innerText()).toContain('token needed')
    expect(await page.content()).not.toContain('/ip4/')
    await page.fill('#token', `${relay.token}x`)
    await page.click('#token-form button[type="submit"]')
    await poll(() => text('#token-state')).toContain('token refused')
    expect(await page.content()).not.toContain('/ip4/')
    await page.fill('#token', relay.token)
    await page.click('#token-form button[type="submit"]')
    await poll(() => text('#token-state')).toBe('token accepted')
    await poll(() => page.locator('#peers tbody').innerText()).toContain('/ip4/127.0.0.1/tcp/4999')
    // kept for this tab's session only
    expect(await page.evaluate(() => sessionStorage.getItem('peercompute.token'))).toBe(relay.token)
    await page.click('#token-clear')
    await poll(() => page.locator('#peers tbody').innerText()).toContain('token needed')
    expect(pageErrors).toEqual([])
  })
})
