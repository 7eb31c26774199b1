// The dashboard in Chromium as `peercompute serve` serves it (the built CLI and the built dashboard: run
// `npm run build` first), with a job running on the mesh: a running job's progress on the page equals the API's,
// the charts receive points while jobs run, the token's Cancel button cancels a job, and a finished job's pieces
// list what the API reports. The job reads a local data host that holds back the second half of the data until
// the test lets it go, so that "running" is a state the test can look at, not a race.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { NodeKernel } from 'peercompute'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { DashboardPage } from '../packages/dashboard/src/main.ts'
import { CLI, loopbackOnly, startNodes } from '../test/integration/helpers.ts'
import { haveChromium, launchChromium } from './browser.ts'
import { tasksChart } from './dashboard-charts.ts'

const RESULTS = resolve(import.meta.dirname, '..', 'test-results')
const SIZE = 4 << 20
const PIECE = 512 << 10
const DATA = new Uint8Array(SIZE).map((_, i) => (i * 131) >>> 3)

/** The page's test hook (window.dashboard). */
export type { DashboardPage }

/** A data host with HTTP Range; ranges from `holdFrom` on wait until `release()`. */
async function dataHost(holdFrom: number) {
  const held: Array<() => void> = []
  let holding = true
  const server: Server = createServer((req, res) => {
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')
    const [start, end] = m ? [Number(m[1]), Math.min(Number(m[2]), SIZE - 1)] : [0, SIZE - 1]
    const send = () => {
      const body = DATA.subarray(start, end + 1)
      res.writeHead(m ? 206 : 200, {
        'content-length': String(body.length),
        'accept-ranges': 'bytes',
        ...(m ? { 'content-range': `bytes ${start}-${end}/${SIZE}` } : {}),
      })
      res.end(req.method === 'HEAD' ? undefined : body)
    }
    if (holding && m && start >= holdFrom) held.push(send)
    else send()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}/data.bin`,
    held: () => held.length,
    release() {
      holding = false
      for (const send of held.splice(0)) send()
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}

/** `peercompute serve` in its own process, on free ports; resolves once it serves. */
async function startServeProcess(dataDir: string) {
  const proc = spawn(
    process.execPath,
    [
      CLI,
      'serve',
      ...['--port', '0', '--relay-ws-port', '0', '--relay-tcp-port', '0', '--relay-http-port', '0'],
      ...['--data-dir', dataDir, '--max-workers', '1', '--loopback'],
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  let out = ''
  const ready = await new Promise<{ url: string; token: string; tcp: string }>((resolve, reject) => {
    proc.stdout?.on('data', (b: Buffer) => {
      out += b
      const url = /serving (http:\/\/\S+)/.exec(out)?.[1]
      const token = /token created \(mode 0600\): (\S+)/.exec(out)?.[1]
      const tcp = /relay listening: (\/ip4\/\S+\/tcp\/\d+\/p2p\/\S+)/.exec(out)?.[1]
      if (url && token && tcp) resolve({ url, token, tcp })
    })
    proc.once('exit', (code) => reject(new Error(`peercompute serve exited (${code}): ${out}`)))
  })
  return { proc, ...ready }
}

/** Polls until the matcher passes (vitest's default of 1 s is too short for a mesh on 2 shared cores). */
const poll = <T>(fn: () => T | Promise<T>, timeout = 20_000) => expect.poll(fn, { timeout })

describe.skipIf(!haveChromium || !loopbackOnly)('the dashboard in Chromium, served by `peercompute serve`', () => {
  let dataDir: string
  let served: Awaited<ReturnType<typeof startServeProcess>>
  let host: Awaited<ReturnType<typeof dataHost>>
  let workers: NodeKernel[]
  let browser: Browser
  let page: Page
  const pageErrors: string[] = []
  let proc: ChildProcess | undefined

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'pc-serve-dash-'))
    host = await dataHost(SIZE / 2)
    served = await startServeProcess(dataDir)
    proc = served.proc
    workers = await startNodes(1, served.tcp, { urlPolicy: { allowPrivate: true } })
    browser = await launchChromium()
    page = await browser.newPage({ viewport: { width: 1280, height: 1400 } })
    page.on('pageerror', (e) => pageErrors.push(e.message))
    await page.goto(`${served.url}/`)
    await page.waitForFunction(() => window.dashboard?.mode === 'serve' && window.dashboard.snapshot !== null)
  }, 120_000)

  afterAll(async () => {
    host?.release()
    await browser?.close()
    await Promise.all((workers ?? []).map((w) => w.stop()))
    if (proc?.pid) {
      const exited = new Promise((r) => proc?.once('exit', r))
      process.kill(proc.pid, 'SIGTERM')
      await exited
    }
    await host?.close()
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  })

  const auth = () => ({ authorization: `Bearer ${served.token}`, 'content-type': 'application/json' })
  const submit = async (body: object) => {
    const res = await fetch(`${served.url}/api/jobs`, { method: 'POST', headers: auth(), body: JSON.stringify(body) })
    expect(res.status).toBe(201)
    return (await res.json()) as { id: string }
  }
  const apiJob = async (id: string) => (await fetch(`${served.url}/api/jobs/${id}`)).json()
  const pageProgress = (id: string) =>
    page.evaluate((jobId) => {
      const bar = document.querySelector<HTMLProgressElement>(`#jobs tr[data-job="${jobId}"] progress`)
      const state = document.querySelector(`#jobs tr[data-job="${jobId}"] .state`)?.textContent
      return bar ? { done: bar.value, total: bar.max, state } : null
    }, id)

  it("shows a running job's progress as the API reports it, and cancels it with the token", async () => {
    const job = await submit({ kernel: 'crc32c', source: { url: host.url }, length: SIZE, pieceSize: PIECE })
    // the first half is done, the second half waits at the data host: the job runs and its progress holds still
    await poll(async () => {
      const j = await apiJob(job.id)
      return j.state === 'running' && j.progress.done === SIZE / 2 && host.held() > 0
    }).toBe(true)
    const api = await apiJob(job.id)
    await poll(() => pageProgress(job.id)).toEqual({
      done: api.progress.done,
      total: api.progress.total,
      state: 'running',
    })
    expect(await page.locator('#jobs-section').isVisible()).toBe(true)

    // read-only: no Cancel button until the token is given
    const cancel = page.locator(`#jobs tr[data-job="${job.id}"] button`)
    expect(await cancel.count()).toBe(0)
    await page.fill('#token', served.token)
    await page.click('#token-form button[type="submit"]')
    await cancel.click()
    await poll(async () => (await apiJob(job.id)).state).toBe('cancelled')
    await poll(async () => (await pageProgress(job.id))?.state).toBe('cancelled')
  })

  it('its charts receive new points while jobs run, and a finished job lists its pieces', async () => {
    host.release()
    // a point taken after the jobs start, with tasks/s above 0 (read through uPlot's own data)
    const { points, busiestSince } = tasksChart(page)
    const before = await points()
    const ids: string[] = []
    let running = true
    const loop = (async () => {
      while (running) {
        const { id } = await submit({ kernel: 'crc32c', source: { url: host.url }, length: SIZE, pieceSize: PIECE })
        ids.push(id)
        await poll(async () => (await apiJob(id)).state, 30_000).toBe('done')
      }
    })()
    try {
      await poll(busiestSince, 30_000).toBeGreaterThan(0)
      expect(await points()).toBeGreaterThan(before)
    } finally {
      running = false
      await loop
    }
    const id = ids[0]
    const done = await apiJob(id)
    expect(done.pieces.length).toBeGreaterThan(0)
    await poll(async () => (await pageProgress(id))?.state).toBe('done')
    await page.locator(`#jobs details[data-job="${id}"] summary`).click()
    await poll(() => page.locator(`#jobs details[data-job="${id}"] ul.pieces li`).count()).toBe(done.pieces.length)
    mkdirSync(RESULTS, { recursive: true })
    await page.screenshot({ path: join(RESULTS, 'dashboard-serve.png'), fullPage: true })
    expect(pageErrors).toEqual([])
  })
})
