// A signed WGSL shader from a Node submitter runs on a Chromium page's WebGPU
// (SwiftShader) and equals the CPU result; a Node peer that trusts the same key
// but has no GPU is never chosen. Runs only in a namespace whose sole
// interface is loopback (npm test provides one).
import { generatePublisherKey, importPublisherKey, type NodeKernel, signBundle } from 'peercompute'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TRIPLE_SIGN, TRIPLE_WGSL, tripleCpu, tripleTask, words } from '../test/integration/fixtures/triple-wgsl.ts'
import { loopbackOnly, startNodes, testRelay, waitFor } from '../test/integration/helpers.ts'
import { type ExampleServer, haveChromium, launchChromium, serveDev } from './browser.ts'
import { openExamplesInChromium } from './fixtures.ts'

const required = process.env.PEERCOMPUTE_REQUIRE_GPU === '1'
const utf8 = new TextEncoder()

/** Whether Chromium here gives pages a WebGPU adapter (SwiftShader with --enable-unsafe-webgpu). */
async function chromiumHasWebGpu(): Promise<boolean> {
  if (!haveChromium || !loopbackOnly) return false
  const server = await serveDev()
  const browser = await launchChromium()
  try {
    const page = await browser.newPage()
    await page.goto(`${server.url}/node/index.html`) // any page of a secure (loopback) origin
    const ok = await page.evaluate(async () => {
      const gpu = (navigator as Navigator & { gpu?: GPU }).gpu
      return (await gpu?.requestAdapter().catch(() => null)) != null
    })
    if (!ok && required) throw new Error('PEERCOMPUTE_REQUIRE_GPU=1 but Chromium has no WebGPU adapter')
    return ok
  } finally {
    await browser.close()
    await server.close()
  }
}
const pageGpu = await chromiumHasWebGpu()

describe.skipIf(!pageGpu)('signed WGSL on a Chromium page’s GPU', () => {
  let context: BrowserContext
  let server: ExampleServer
  let web: { page: Page; id: string }
  let submitter: NodeKernel
  let noGpu: NodeKernel
  let key: Awaited<ReturnType<typeof importPublisherKey>>
  let name: string
  const cleanups: Array<() => Promise<unknown> | unknown> = []

  beforeAll(async () => {
    const relay = await testRelay()
    cleanups.push(() => relay.stop())
    const pub = await generatePublisherKey()
    key = await importPublisherKey(pub.secretKeyPem)
    ;[submitter] = await startNodes(1, relay.wsAddr)
    // trusts the key, but has no GPU (enableWebGPU: false): it must never be chosen for a shader
    ;[noGpu] = await startNodes(1, relay.wsAddr, { trust: [pub.publicKey], enableWebGPU: false })
    cleanups.push(() => Promise.all([submitter.stop(), noGpu.stop()]))
    ;({ server, context } = await openExamplesInChromium(cleanups))
    const page = await context.newPage()
    page.on('pageerror', (e) => console.error('page error:', e.message))
    await page.goto(
      `${server.url}/node/?relay=${encodeURIComponent(relay.wsAddr)}&trust=${encodeURIComponent(pub.publicKey)}`,
    )
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 })
    web = { page, id: await page.evaluate(() => window.pcnode.peerId) }
    cleanups.push(() => page.close())
    name = await submitter.publish(await signBundle(utf8.encode(TRIPLE_WGSL), TRIPLE_SIGN, key))
    await waitFor(
      'the submitter sees the page (GPU, trusting the key) and the Node peer (trusting it, no GPU)',
      () => {
        const peers = submitter.getStatus().peers
        const signed = (id: string) =>
          peers.find((p) => p.id === id && p.caps.kernels.includes(`signed:${pub.publicKey}`))
        return signed(web.id)?.caps.gpu === true && signed(noGpu.peerId)?.caps.gpu === false
      },
      30_000,
    )
  }, 90_000)
  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  it('runs on the page’s WebGPU, equals the CPU result, and the Node peer without a GPU is never chosen', async () => {
    const runs = await Promise.all(
      Array.from({ length: 16 }, (_, i) => {
        const a = words(1 + i * 123, i)
        return submitter
          .submitTask({ id: `g${i}`, type: 'webgpu', ...tripleTask(name, a, i) })
          .then((res) => ({ res, want: tripleCpu(a, i) }))
      }),
    )
    for (const { res, want } of runs) {
      expect(res.error).toBeUndefined()
      expect(res.result).toEqual(want)
      expect(res.peers).toEqual([web.id])
      for (const piece of res.pieces) {
        expect(piece.substrate).toBe('browser:webgpu')
        for (const run of piece.runs) expect(run.peer).toBe(web.id)
      }
    }
    const ex = noGpu.compute.status().executor
    expect(ex.completed + ex.failed + ex.refused).toBe(0)
    const done = await web.page.evaluate(() => window.pcnode.status().tasks.executor.completed)
    expect(done).toBeGreaterThanOrEqual(runs.length)
  }, 90_000)

  it('a shader the page’s GPU refuses fails as a task; the page serves on', async () => {
    const broken = await submitter.publish(
      await signBundle(utf8.encode('@compute @workgroup_size(1) fn main() { let x: u32 = ; }'), TRIPLE_SIGN, key),
    )
    const bad = await submitter.submitTask({
      id: 'bad',
      type: 'webgpu',
      ...tripleTask(broken, words(4, 1), 0),
      maxAttempts: 1,
    })
    expect(bad.success).toBe(false)
    const a = words(777, 5)
    const res = await submitter.submitTask({ id: 'after', type: 'webgpu', ...tripleTask(name, a, 9) })
    expect(res).toMatchObject({ success: true, peers: [web.id] })
    expect(res.result).toEqual(tripleCpu(a, 9))
    const failed = await web.page.evaluate(() => window.pcnode.status().tasks.executor.failed)
    expect(failed).toBeGreaterThanOrEqual(1)
  }, 60_000)
})
