// examples/hash-a-file: a file chosen in the page is hashed in pieces across
// the mesh (the page and two Node peers); its crc32c and fnv64 equal what
// `peercompute kernel crc32c|fnv64 FILE` prints. Loopback-only namespace (WebRTC).
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { NodeKernel } from 'peercompute'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { HashPage } from '../examples/hash-a-file/main.ts'
import { CLI, loopbackOnly, startNodes, testRelay, waitFor } from '../test/integration/helpers.ts'
import { type ExampleServer, haveChromium, launchChromium, serveDev } from './browser.ts'

describe.skipIf(!haveChromium || !loopbackOnly)('examples/hash-a-file', () => {
  let browser: Browser
  let server: ExampleServer
  let relay: Awaited<ReturnType<typeof testRelay>>
  let nodes: NodeKernel[]
  const dir = mkdtempSync(join(tmpdir(), 'pc-hash-a-file-'))

  beforeAll(async () => {
    relay = await testRelay()
    nodes = await startNodes(2, relay.wsAddr)
    server = await serveDev({ optimizeDeps: { include: ['y-indexeddb', 'uplot'] } })
    browser = await launchChromium()
  })
  afterAll(async () => {
    await browser?.close()
    await server?.close()
    await Promise.all((nodes ?? []).map((n) => n.stop()))
    await relay?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('a dropped file’s crc32c and fnv64, computed across the mesh, equal `peercompute kernel`', async () => {
    const file = join(dir, 'file.bin')
    const bytes = new Uint8Array(12 * 1024 * 1024 + 13)
    for (let i = 0, x = 7; i < bytes.length; i++) {
      x = (x * 1664525 + 1013904223) >>> 0
      bytes[i] = x >>> 24
    }
    writeFileSync(file, bytes)
    const cli = (op: string) =>
      (
        JSON.parse(execFileSync(process.execPath, [CLI, 'kernel', op, file, '--json'], { encoding: 'utf8' })) as Array<{
          result: string
        }>
      )[0].result

    const context = await browser.newContext()
    await context.grantPermissions(['camera', 'microphone'], { origin: server.url })
    const page: Page = await context.newPage()
    page.on('pageerror', (e) => console.error('page error:', e.message))
    await page.goto(`${server.url}/hash-a-file/?relay=${encodeURIComponent(relay.wsAddr)}`)
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 })
    const id = await page.evaluate(() => window.hashPage.peerId)
    await waitFor(
      'the Node peers see the page',
      () => nodes.every((n) => n.getStatus().peers.some((p) => p.id === id && p.connected)),
      30_000,
    )
    await page.waitForFunction(() => window.hashPage.peers() >= 2, undefined, { timeout: 30_000 })
    await page.setInputFiles('#file', file)
    await page.waitForSelector('body[data-done="true"]', { timeout: 60_000 })
    expect(await page.textContent('#crc32c')).toBe(cli('crc32c'))
    expect(await page.textContent('#fnv64')).toBe(cli('fnv64'))
    expect(await page.evaluate(() => (document.getElementById('progress') as HTMLProgressElement).value)).toBe(1)
    const byPeer: ReturnType<HashPage['byPeer']> = await page.evaluate(() => window.hashPage.byPeer())
    // both ops, every byte once
    expect(Object.values(byPeer).reduce((a, b) => a + b, 0)).toBe(2 * bytes.length)
    expect(Object.keys(byPeer).some((p) => nodes.some((n) => n.peerId === p))).toBe(true)
    expect(await page.locator('#chart canvas').count()).toBeGreaterThan(0)
    await context.close()
  })
})
