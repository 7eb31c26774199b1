// The set-ups the Chromium e2e tests share: a relay with a Node submitter, and
// the example pages under `vite dev` with a Chromium context that may use
// WebRTC. Each pushes its stops onto the test's `cleanups` in start order.
import type { NodeKernel } from 'peercompute'
import type { Browser, BrowserContext } from 'playwright-core'
import { startNodes, testRelay } from '../test/integration/helpers.ts'
import { type ExampleServer, launchChromium, serveDev } from './browser.ts'

/** What a test's afterAll runs, last first. */
export type Cleanups = Array<() => Promise<unknown> | unknown>

/** A test relay and one Node submitter on it. */
export async function startRelayAndSubmitter(
  cleanups: Cleanups,
): Promise<{ relay: Awaited<ReturnType<typeof testRelay>>; submitter: NodeKernel }> {
  const relay = await testRelay()
  cleanups.push(() => relay.stop())
  const [submitter] = await startNodes(1, relay.wsAddr)
  cleanups.push(() => submitter.stop())
  return { relay, submitter }
}

/**
 * The example pages under `vite dev` (y-indexeddb pre-bundled), Chromium, and
 * one context: one origin's storage, locks and channels, shared by its tabs.
 */
export async function openExamplesInChromium(
  cleanups: Cleanups,
): Promise<{ server: ExampleServer; browser: Browser; context: BrowserContext }> {
  const server = await serveDev({ optimizeDeps: { include: ['y-indexeddb'] } })
  cleanups.push(() => server.close())
  const browser = await launchChromium()
  cleanups.push(() => browser.close())
  const context = await browser.newContext()
  // without these Chromium gathers no ICE candidates at all
  await context.grantPermissions(['camera', 'microphone'], { origin: server.url })
  return { server, browser, context }
}
