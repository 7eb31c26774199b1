// npm run bench:volunteer — does a volunteer keep its CPU cap? Prints, never asserts.
// The BUILT script tag (dist/volunteer) on examples/volunteer in Chromium, one
// lent core (data-workers=1), a Node submitter keeping it (and only it) fed
// with fnv64 pieces over a URL served by a data host in its own process. Over 20 s it prints the busy share of the lent core:
//   - by the duty cycle's clock (time in tasks / wall time), and
//   - by the renderer's CPU time (CDP SystemInfo.getProcessInfo: the page's
//     main thread and its workers together, what the visitor's machine pays),
// next to the cap (maxCpu 0.5; target within 5 points), and the same with
// maxCpu 1 as the reference: how busy this stream keeps an uncapped core here.
// Also: how long a hidden page takes to report paused (target < 1 s).
// Runs inside a loopback-only network namespace (scripts/netns-run.js).
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { NodeKernel } from 'peercompute'
import type { Browser, CDPSession, Page } from 'playwright-core'
import { launchChromium } from '../e2e/browser.ts'
import { serveStatic, withRelay } from '../e2e/static-server.ts'
import { startNodes, testRelay, waitFor } from '../test/integration/helpers.ts'
import { killOnExit, stopProcess } from './lib/processes.ts'

const WINDOW_MS = 20_000
const WARMUP_MS = 3_000
const PIECE = 16 * 1024 * 1024
const guard = setTimeout(() => {
  console.error('bench:volunteer: over 5 minutes, giving up')
  process.exit(1)
}, 5 * 60_000)
guard.unref()

const relay = await testRelay()
const [submitter] = await startNodes(1, relay.wsAddr)
const SIZE = 128 * 1024 * 1024
const host = killOnExit(
  spawn(process.execPath, [fileURLToPath(new URL('./lib/serve-bytes.ts', import.meta.url)), String(SIZE)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  }),
)
const data = await new Promise<{ href: string; origin: string }>((resolve, reject) => {
  host.stdout?.once('data', (d: Buffer) => resolve(JSON.parse(d.toString())))
  host.once('exit', () => reject(new Error('the data host exited')))
})
let cap = '0.5'
const site = await serveStatic((path, html) =>
  path === '/examples/volunteer/'
    ? withRelay(
        html,
        relay.wsAddr,
        `data-consent="granted" data-dial-private data-allow-private data-allow-origins="${data.origin}" data-ice-servers="" data-workers="1"`,
      ).replace(/data-max-cpu="[^"]*"/, `data-max-cpu="${cap}"`)
    : html,
)
const browser: Browser = await launchChromium()
const cdp: CDPSession = await browser.newBrowserCDPSession()

/** CPU seconds of every renderer process, by pid. */
async function rendererCpu(): Promise<Map<number, number>> {
  const r = (await cdp.send('SystemInfo.getProcessInfo')) as {
    processInfo: Array<{ type: string; id: number; cpuTime: number }>
  }
  return new Map(r.processInfo.filter((p) => p.type === 'renderer').map((p) => [p.id, p.cpuTime]))
}

/** Keeps `jobs` fnv64 jobs in flight on `peer` alone (the submitter runs none) until `stop` aborts them. */
function feed(node: NodeKernel, peer: string, jobs: number, stop: AbortSignal): Promise<void> {
  const one = async (): Promise<void> => {
    while (!stop.aborted) {
      // cancelled at the end: a paused volunteer would otherwise refuse the rest until the jobs give up
      await node.compute
        .submit({ op: 'fnv64', data: { url: data.href, length: SIZE }, pieceBytes: PIECE, peers: [peer], signal: stop })
        .result.catch(() => {})
    }
  }
  return Promise.all(Array.from({ length: jobs }, one)).then(() => {})
}

async function measure(maxCpu: string): Promise<{ busy: number; cpu: number; tasks: number; pauseMs: number }> {
  cap = maxCpu
  const context = await browser.newContext()
  await context.grantPermissions(['camera', 'microphone'], { origin: site.url })
  // this benchmark measures the cap; a loaded machine's real pressure signal would pause the volunteer
  await context.addInitScript(() => {
    delete (window as { PressureObserver?: unknown }).PressureObserver
  })
  const page: Page = await context.newPage()
  await page.goto(`${site.url}/examples/volunteer/`)
  await page.waitForFunction(
    () =>
      (window as unknown as { PeerCompute: { instance?: { state: string } } }).PeerCompute.instance?.state ===
      'running',
    undefined,
    { timeout: 60_000 },
  )
  const stats = () =>
    page.evaluate(() =>
      (
        window as unknown as {
          PeerCompute: { instance: { stats(): { peerId: string; tasks: number; cpuSeconds: number } } }
        }
      ).PeerCompute.instance.stats(),
    )
  const id = (await stats()).peerId
  await waitFor('the submitter sees the volunteer', () => submitter.getStatus().peers.some((p) => p.id === id), 30_000)
  const done = new AbortController()
  const feeding = feed(submitter, id, 3, done.signal)
  await new Promise((r) => setTimeout(r, WARMUP_MS))
  const [s0, c0, t0] = [await stats(), await rendererCpu(), performance.now()]
  await new Promise((r) => setTimeout(r, WINDOW_MS))
  const [s1, c1, t1] = [await stats(), await rendererCpu(), performance.now()]
  // hidden → paused: from the browser's visibilitychange to the volunteer's 'paused' (headless
  // Chromium never hides a page by itself, so the page plays the browser's part)
  const pauseMs = await page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        const v = (
          window as unknown as {
            PeerCompute: { instance: { onChange(fn: (s: { state: string }) => void): () => void } }
          }
        ).PeerCompute.instance
        const t0 = performance.now()
        const off = v.onChange((s) => {
          if (s.state !== 'paused') return
          off()
          resolve(performance.now() - t0)
        })
        Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' })
        document.dispatchEvent(new Event('visibilitychange'))
      }),
  )
  done.abort()
  await feeding
  await context.close()
  let cpu = 0
  for (const [pid, t] of c1) if (c0.has(pid)) cpu += t - (c0.get(pid) as number)
  const wall = (t1 - t0) / 1000
  return { busy: (s1.cpuSeconds - s0.cpuSeconds) / wall, cpu: cpu / wall, tasks: s1.tasks - s0.tasks, pauseMs }
}

try {
  const capped = await measure('0.5')
  const free = await measure('1')
  const pts = (x: number) => (x * 100).toFixed(1)
  console.log(`volunteer CPU cap, 1 lent core, ${WINDOW_MS / 1000} s of a steady fnv64 stream (16 MiB pieces):`)
  console.log(
    `  maxCpu 0.50: busy share ${pts(capped.busy)}% (duty-cycle clock), ${pts(capped.cpu)}% (renderer CPU time); cap 50%; off by ${Math.abs(capped.busy * 100 - 50).toFixed(1)} / ${Math.abs(capped.cpu * 100 - 50).toFixed(1)} points; ${capped.tasks} tasks`,
  )
  console.log(
    `  maxCpu 1.00 (reference): busy share ${pts(free.busy)}% (duty-cycle clock), ${pts(free.cpu)}% (renderer CPU time); ${free.tasks} tasks`,
  )
  console.log(`  capped / uncapped CPU time: ${(capped.cpu / free.cpu).toFixed(2)}`)
  console.log(`  hidden → paused: ${capped.pauseMs.toFixed(1)} ms (target < 1000 ms)`)
} finally {
  await browser.close()
  await submitter.stop()
  await relay.stop()
  await site.close()
  await stopProcess(host)
}
// everything above is stopped; a handle of the browser driver may still hold the loop, so end here
process.exit(0)
