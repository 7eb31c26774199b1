// The worker pool and WebGPU in a real Chromium page, loaded from the built
// package through Vite in dev mode (also with the package pre-bundled, the
// known trap for workers inside dependencies) and from a production build.
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ComputeReport } from '../examples/compute/main.ts'
import { type ExampleServer, haveChromium, launchChromium, serveBuild, serveDev } from './browser.ts'

/** Each mode, how to serve it, and a request that proves the page was served that way. */
const modes: Array<[string, () => Promise<ExampleServer>, RegExp]> = [
  ['vite dev', () => serveDev(), /\/packages\/peercompute\/dist\/browser\/compute\/worker-entry\.js/],
  [
    'vite dev, package pre-bundled',
    () => serveDev({ optimizeDeps: { include: ['peercompute', '@peercompute/kernels'] } }),
    /\/deps\/peercompute\.js/,
  ],
  ['vite build', () => serveBuild(), /\/assets\/worker-entry-[\w-]+\.js/],
]

describe.skipIf(!haveChromium)('local compute in Chromium', () => {
  let browser: Browser
  beforeAll(async () => {
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
  })

  it.each(modes)('%s: pool and WebGPU results equal the CPU kernels', async (_mode, serve, proof) => {
    const server = await serve()
    const page = await browser.newPage()
    const errors: string[] = []
    const requests: string[] = []
    page.on('pageerror', (e) => errors.push(e.message))
    page.on('request', (req) => requests.push(new URL(req.url()).pathname))
    try {
      await page.goto(`${server.url}/compute/`)
      await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 })
      const report = await page.evaluate(() => window.runChecks())
      const r = report as ComputeReport
      expect(errors).toEqual([])
      expect(
        requests.some((p) => proof.test(p)),
        `no request like ${proof} in ${requests.join(' ')}`,
      ).toBe(true)
      expect(r.workersStarted).toBe(2)
      expect(r.webgpu).toBe('ok')
      expect(r.checks.filter((c) => c.where === 'pool').map((c) => c.op)).toEqual([
        'counteq',
        'crc32c',
        'fnv64',
        'xor',
        'add',
        'counteq ×2000',
      ])
      expect(r.checks.filter((c) => c.where === 'webgpu')).toHaveLength(3)
      for (const c of r.checks) expect(c.got, `${c.op} on ${c.where}`).toBe(c.want)
    } finally {
      await page.close()
      await server.close()
    }
  })
})
