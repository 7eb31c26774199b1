// Two Chromium pages and a Node peer join through a relay and find each other;
// the pages connect browser to browser over WebRTC. Runs only in a namespace
// whose sole interface is loopback (npm test provides one).
import type { NetworkManager } from 'peercompute'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { MeshPage } from '../examples/mesh/main.ts'
import { loopbackOnly, startPeers, testRelay, waitFor } from '../test/integration/helpers.ts'
import { type ExampleServer, haveChromium, launchChromium, serveDev } from './browser.ts'

const CHAT = '/peercompute/example-chat/1.0.0'

describe.skipIf(!haveChromium || !loopbackOnly)('mesh in Chromium: two pages and a Node peer', () => {
  let browser: Browser
  let context: BrowserContext
  let server: ExampleServer
  let relay: Awaited<ReturnType<typeof testRelay>>
  let nodePeer: NetworkManager
  const nodeReceived: string[] = []

  beforeAll(async () => {
    relay = await testRelay()
    ;[nodePeer] = await startPeers(1, relay.wsAddr)
    await nodePeer.handle(CHAT, (stream) => {
      stream.addEventListener('message', (e) => nodeReceived.push(new TextDecoder().decode(e.data.subarray())))
      stream.addEventListener('remoteCloseWrite', () => void stream.close())
    })
    server = await serveDev()
    browser = await launchChromium()
    context = await browser.newContext()
    // without these Chromium gathers no ICE candidates at all
    await context.grantPermissions(['camera', 'microphone'], { origin: server.url })
  })
  afterAll(async () => {
    await context?.close()
    await browser?.close()
    await server?.close()
    await nodePeer?.stop()
    await relay?.stop()
  })

  const open = async (): Promise<{ page: Page; id: string }> => {
    const page = await context.newPage()
    page.on('pageerror', (e) => console.error('page error:', e.message))
    await page.goto(`${server.url}/mesh/?relay=${encodeURIComponent(relay.wsAddr)}`)
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 })
    return { page, id: await page.evaluate(() => window.mesh.peerId) }
  }
  const knows = (page: Page, n: number) =>
    page.waitForFunction((k) => window.mesh.status().peers.length === k, n, { timeout: 30_000 })
  const directWebRtc = (page: Page, peer: string) =>
    page.waitForFunction(
      (p) =>
        window.mesh
          .status()
          .connections.some((c) => c.peer === p && c.transport === 'webrtc' && c.remoteAddr.includes('/webrtc')),
      peer,
      { timeout: 30_000 },
    )

  it('pages connect browser to browser over WebRTC, exchange messages, and a reloaded page rejoins', async () => {
    const a = await open()
    const b = await open()
    await Promise.all([knows(a.page, 2), knows(b.page, 2)])
    await waitFor('the Node peer knows both pages', () => nodePeer.knownPeers().length === 2)

    // browser to browser, direct: the remote multiaddr is a /webrtc one
    await directWebRtc(a.page, b.id)
    await directWebRtc(b.page, a.id)
    const conn = await a.page.evaluate(
      (p) => window.mesh.status().connections.find((c) => c.peer === p && c.transport === 'webrtc'),
      b.id,
    )
    expect(conn?.remoteAddr).toMatch(/\/webrtc\/p2p\/12D3Koo/)

    // messages both ways, and between a page and the Node peer
    await a.page.evaluate((p) => window.mesh.send(p, 'hello from A'), b.id)
    await b.page.evaluate((p) => window.mesh.send(p, 'hello from B'), a.id)
    await b.page.evaluate((p) => window.mesh.send(p, 'hello Node'), nodePeer.peerId)
    await b.page.waitForFunction(
      (p) => window.mesh.received.some((m) => m.from === p && m.text === 'hello from A'),
      a.id,
    )
    await a.page.waitForFunction(
      (p) => window.mesh.received.some((m) => m.from === p && m.text === 'hello from B'),
      b.id,
    )
    await waitFor('the Node peer got the page message', () => nodeReceived.includes('hello Node'))
    const s = await nodePeer.dialProtocol(a.id, CHAT)
    s.send(new TextEncoder().encode('hello page'))
    // libp2p's WebRTC close() can reject with its close event although the stream did close
    await s.close().catch(() => expect(s.status).toBe('closed'))
    await a.page.waitForFunction(
      (p) => window.mesh.received.some((m) => m.from === p && m.text === 'hello page'),
      nodePeer.peerId,
    )

    // a reloaded page comes back as a new peer; the others see it and connect to it directly
    await b.page.reload()
    await b.page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 })
    const b2 = await b.page.evaluate(() => window.mesh.peerId)
    expect(b2).not.toBe(b.id)
    await a.page.waitForFunction((p) => window.mesh.joins.includes(p), b2, { timeout: 30_000 })
    await waitFor('the Node peer sees the old page leave and the new one join', () => {
      const ids = nodePeer.knownPeers().map((p) => p.id)
      return ids.includes(b2) && !ids.includes(b.id)
    })
    await directWebRtc(a.page, b2)
    const pageState: MeshPage['received'] = await a.page.evaluate(() => window.mesh.received)
    expect(pageState.length).toBeGreaterThanOrEqual(2)
  })
})
