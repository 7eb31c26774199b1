// A PeerCompute node in a Chromium page (examples/node): its shared state kept
// in IndexedDB, shared with a Node peer through the mesh, and its Web Workers
// running the pieces of a job a Node peer submits. WebRTC tests run only in a
// namespace whose sole interface is loopback (npm test provides one).
import * as kernels from '@peercompute/kernels'
import type { NodeKernel } from 'peercompute'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { NodePage } from '../examples/node/main.ts'
import { loopbackOnly, startNodes, testRelay, waitFor } from '../test/integration/helpers.ts'
import { type ExampleServer, haveChromium, launchChromium, serveDev } from './browser.ts'
import { serveData } from './static-server.ts'

describe.skipIf(!haveChromium)('a node in Chromium', () => {
  let browser: Browser
  let context: BrowserContext
  let server: ExampleServer
  const cleanups: Array<() => Promise<unknown> | unknown> = []

  beforeAll(async () => {
    server = await serveDev({ optimizeDeps: { include: ['y-indexeddb'] } })
    browser = await launchChromium()
    context = await browser.newContext()
    // without these Chromium gathers no ICE candidates at all
    await context.grantPermissions(['camera', 'microphone'], { origin: server.url })
  })
  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
    await context?.close()
    await browser?.close()
    await server?.close()
  })

  const open = async (query: string): Promise<{ page: Page; id: NodePage['peerId'] }> => {
    const page = await context.newPage()
    page.on('pageerror', (e) => console.error('page error:', e.message))
    await page.goto(`${server.url}/node/?${query}`)
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 })
    return { page, id: await page.evaluate(() => window.pcnode.peerId) }
  }

  it("storageMode 'local': the shared map survives a reload through IndexedDB", async () => {
    const { page } = await open('storage=local&room=e2e-persist')
    await page.evaluate(() => window.pcnode.setNote('kept', { n: 42 }))
    await page.evaluate(() => window.pcnode.stop())
    await page.reload()
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 })
    expect(await page.evaluate(() => window.pcnode.status().storageMode)).toBe('local')
    expect(await page.evaluate(() => window.pcnode.notes())).toEqual({ kept: { n: 42 } })
    // another room, or memory storage, starts empty
    const other = await open('storage=memory&room=e2e-persist')
    expect(await other.page.evaluate(() => window.pcnode.notes())).toEqual({})
    await page.close()
    await other.page.close()
  })

  describe.skipIf(!loopbackOnly)('with a relay and Node peers', () => {
    let relay: Awaited<ReturnType<typeof testRelay>>
    let nodes: NodeKernel[]
    let web: { page: Page; id: string }

    beforeAll(async () => {
      relay = await testRelay()
      cleanups.push(() => relay.stop())
      nodes = await startNodes(2, relay.wsAddr)
      cleanups.push(() => Promise.all(nodes.map((n) => n.stop())))
      web = await open(`relay=${encodeURIComponent(relay.wsAddr)}`)
      cleanups.push(() => web.page.close())
      await waitFor(
        'the Node peers are connected to the page and to each other',
        () => nodes.every((n) => n.getStatus().peers.filter((p) => p.connected).length === 2),
        30_000,
      )
    })

    it('the page and a Node peer edit one map through the mesh and see each other', async () => {
      await waitFor('the page joined the Node peer’s room', () => nodes[0].state.peers().includes(web.id), 30_000)
      await web.page.evaluate(() => window.pcnode.setNote('fromPage', 'hello from Chromium'))
      nodes[0].state.map('notes').set('fromNode', 'hello from Node')
      await waitFor(
        'the Node peer sees the page’s edit',
        () => nodes[0].state.map('notes').get('fromPage') !== undefined,
      )
      await web.page.waitForFunction(() => window.pcnode.notes().fromNode === 'hello from Node', undefined, {
        timeout: 20_000,
      })
      expect(nodes[1].state.map('notes').toJSON()).toEqual({
        fromPage: 'hello from Chromium',
        fromNode: 'hello from Node',
      })
    })

    it('a 256 MiB crc32c job is split across the Node peers and the page; it equals the single-process crc32c', async () => {
      const data = new Uint8Array(256 * 1024 * 1024)
      const words = new Uint32Array(data.buffer)
      for (let i = 0, x = 0x12345678; i < words.length; i++) {
        x ^= x << 13
        x ^= x >>> 17
        x ^= x << 5
        words[i] = x
      }
      const url = await serveData(data)
      cleanups.push(() => url.close())
      const job = nodes[0].compute.submit({ op: 'crc32c', data: { url: url.href, length: data.length } })
      const r = await job.result
      expect(r.result).toBe(kernels.crc32c(data))
      const byPeer = new Map<string, number>()
      for (const p of r.pieces) byPeer.set(p.peer, (byPeer.get(p.peer) ?? 0) + 1)
      expect([...byPeer.keys()].sort()).toEqual([web.id, ...nodes.map((n) => n.peerId)].sort())
      expect(r.pieces.find((p) => p.peer === web.id)?.substrate).toBe('browser')
      const done = await web.page.evaluate(() => window.pcnode.status().tasks.executor.completed)
      expect(done).toBe(byPeer.get(web.id))
      // the other ops over a smaller range, through the same peers
      const small = { url: url.href, offset: 3, length: 24 * 1024 * 1024 }
      for (const op of ['counteq', 'fnv64', 'xor', 'add'] as const) {
        const res = await nodes[0].compute.submit({ op, data: small, imm: 5, pieceBytes: 4 * 1024 * 1024 }).result
        const want =
          op === 'counteq'
            ? kernels.counteq(data.subarray(3, 3 + small.length), 5)
            : op === 'fnv64'
              ? kernels.fnv64(data.subarray(3, 3 + small.length))
              : op === 'xor'
                ? kernels.xor(data.subarray(3, 3 + small.length), 5)
                : kernels.add(data.subarray(3, 3 + small.length), 5)
        if (want instanceof Uint8Array) expect(Buffer.compare(res.result as Uint8Array, want)).toBe(0)
        else expect(res.result).toBe(want)
      }
    })
  })
})
