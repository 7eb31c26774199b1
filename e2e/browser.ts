// Shared e2e helpers: Debian's Chromium through playwright-core, and the
// example pages served by Vite in dev mode or from a production build.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'
import { build, createServer, type PluginOption, preview } from 'vite'

export const CHROMIUM = '/usr/bin/chromium'
/** In CI the browser tests must run: a missing Chromium fails instead of skipping. */
export const browserRequired = process.env.PEERCOMPUTE_REQUIRE_BROWSER === '1'
export const haveChromium = existsSync(CHROMIUM)
if (!haveChromium && browserRequired) throw new Error(`PEERCOMPUTE_REQUIRE_BROWSER=1 but ${CHROMIUM} is missing`)

const CONFIG = resolve(import.meta.dirname, '..', 'vite.config.ts')

/** Launches headless Chromium with WebGPU (SwiftShader without a GPU). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
      '--enable-unsafe-webgpu',
      // WebRTC between pages on one machine, over loopback only (tests run in a lo-only namespace)
      '--allow-loopback-in-peer-connection',
    ],
  })
}

/**
 * Hides or shows a page the way the browser does (`visibilityState`, then
 * `visibilitychange`): headless Chromium keeps every page visible whatever
 * tab is in front, so the test plays the browser's part.
 */
export async function setHidden(page: Page, hidden: boolean): Promise<void> {
  await page.evaluate((h) => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => (h ? 'hidden' : 'visible') })
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => h })
    document.dispatchEvent(new Event('visibilitychange'))
  }, hidden)
}

/** The port a Node HTTP server listens on. */
function portOf(server: { address(): ReturnType<import('node:net').Server['address']> } | undefined): number {
  const addr = server?.address()
  if (!addr || typeof addr === 'string') throw new Error('the example server has no address')
  return addr.port
}

/** A running server of the example pages. */
export interface ExampleServer {
  url: string
  close(): Promise<void>
}

/** Serves the examples with `vite dev`. */
export async function serveDev(
  overrides: { optimizeDeps?: { include?: string[] }; plugins?: PluginOption[] } = {},
): Promise<ExampleServer> {
  const cacheDir = mkdtempSync(join(tmpdir(), 'pc-vite-cache-'))
  const server = await createServer({
    configFile: CONFIG,
    cacheDir,
    logLevel: 'warn',
    server: { port: 0, strictPort: false },
    ...overrides,
  })
  await server.listen()
  return {
    url: `http://127.0.0.1:${portOf(server.httpServer ?? undefined)}`,
    async close() {
      await server.close()
      rmSync(cacheDir, { recursive: true, force: true })
    },
  }
}

/** Builds the examples with `vite build` and serves the output with `vite preview`. */
export async function serveBuild(): Promise<ExampleServer> {
  const outDir = mkdtempSync(join(tmpdir(), 'pc-examples-'))
  await build({ configFile: CONFIG, logLevel: 'warn', build: { outDir, emptyOutDir: true } })
  const server = await preview({ configFile: CONFIG, logLevel: 'warn', build: { outDir }, preview: { port: 0 } })
  return {
    url: `http://127.0.0.1:${portOf(server.httpServer)}`,
    async close() {
      await server.close()
      rmSync(outDir, { recursive: true, force: true })
    },
  }
}
