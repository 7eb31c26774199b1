// Signed kernels in a Chromium page (examples/node with ?trust=KEY): the page
// runs them in a sandbox (a Worker in an opaque-origin iframe), refuses
// tampered code and serves on, and takes part in a map job of 10,000 items
// beside two Node worker processes, one of which is SIGKILLed mid-job. WebRTC
// tests run only in a namespace whose sole interface is loopback.
import type { ChildProcess } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { generatePublisherKey, importPublisherKey, type NodeKernel, type PublisherKey, signBundle } from 'peercompute'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sandboxScriptHash } from '../packages/peercompute/src/browser/compute/sandbox/sandbox-sources.ts'
import { loopbackOnly, startWorkerProcess, type testRelay, waitFor } from '../test/integration/helpers.ts'
import { type ExampleServer, haveChromium, serveDev } from './browser.ts'
import { openExamplesInChromium, startRelayAndSubmitter } from './fixtures.ts'

const enc = new TextEncoder()
const INC = enc.encode('export default (x) => x + 1\n')
// Tries what traveling code must not reach from a page; the item is the page's origin.
const PROBE = enc.encode(`export default async ({ pageOrigin, corsUrl }) => {
  const r = { origin: String(self.origin) }
  const attempt = async (what, f) => {
    try {
      r[what] = { ok: true, value: String(await f()) }
    } catch (e) {
      r[what] = { ok: false, error: String(e && e.name) + ': ' + String(e && e.message) }
    }
  }
  await attempt('document', () => document.title)
  await attempt('cookie', () => document.cookie)
  await attempt('localStorage', () => localStorage.getItem('pcsecret'))
  await attempt('indexedDB', () => new Promise((resolve, reject) => {
    const q = indexedDB.open('pc-probe')
    q.onsuccess = () => resolve('opened')
    q.onerror = () => reject(q.error)
  }))
  await attempt('fetch', async () => (await fetch(pageOrigin + '/node/', { credentials: 'include' })).status)
  // a host that allows every origin: only the sandbox's CSP (connect-src 'none') stops this one
  await attempt('fetchCors', async () => (await fetch(corsUrl)).status)
  await attempt('webSocket', () => new Promise((resolve, reject) => {
    const ws = new WebSocket(corsUrl.replace('http', 'ws'))
    ws.onopen = () => resolve('open')
    ws.onerror = () => reject(new Error('refused'))
  }))
  await attempt('parent', () => parent.document.cookie)
  return r
}
`)

describe.skipIf(!haveChromium || !loopbackOnly)('signed kernels in a Chromium page', () => {
  let context: BrowserContext
  let server: ExampleServer
  let relay: Awaited<ReturnType<typeof testRelay>>
  let submitter: NodeKernel
  let workers: Array<{ proc: ChildProcess; id: string }>
  let web: { page: Page; id: string }
  let key: PublisherKey
  let publicKey: string
  const cleanups: Array<() => Promise<unknown> | unknown> = []

  beforeAll(async () => {
    const pub = await generatePublisherKey()
    publicKey = pub.publicKey
    key = await importPublisherKey(pub.secretKeyPem)
    ;({ server, context } = await openExamplesInChromium(cleanups))
    ;({ relay, submitter } = await startRelayAndSubmitter(cleanups))
    workers = await Promise.all([0, 1].map(() => startWorkerProcess(relay.wsAddr, ['--trust', publicKey])))
    cleanups.push(() => {
      for (const w of workers) if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGKILL')
    })
    const page = await context.newPage()
    page.on('pageerror', (e) => console.error('page error:', e.message))
    await page.goto(
      `${server.url}/node/?relay=${encodeURIComponent(relay.wsAddr)}&trust=${encodeURIComponent(publicKey)}`,
    )
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 })
    web = { page, id: await page.evaluate(() => window.pcnode.peerId) }
    cleanups.push(() => page.close())
    const ids = [web.id, ...workers.map((w) => w.id)]
    await waitFor(
      'the submitter is connected to the page and both workers, each trusting the key',
      () =>
        ids.every((id) =>
          submitter
            .getStatus()
            .peers.some((p) => p.id === id && p.connected && p.caps.kernels.includes(`signed:${publicKey}`)),
        ),
      30_000,
    )
  })
  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  it('in the page, traveling code cannot read document, localStorage, indexedDB or the page’s cookies', async () => {
    await context.addCookies([{ name: 'pcsecret', value: 'page-cookie', url: server.url }])
    await web.page.evaluate(() => localStorage.setItem('pcsecret', 'page-storage'))
    const probe = await signBundle(PROBE, { name: 'probe', version: '1.0.0', kind: 'kernel' }, key)
    const hits: string[] = []
    const cors = createServer((req, res) => {
      hits.push(req.url ?? '')
      res.writeHead(200, { 'access-control-allow-origin': '*' }).end('reachable')
    })
    await new Promise<void>((r) => cors.listen(0, '127.0.0.1', () => r()))
    const corsUrl = `http://127.0.0.1:${(cors.address() as AddressInfo).port}/probe`
    const job = submitter.compute.map({
      code: probe,
      inputs: [{ pageOrigin: server.url, corsUrl }],
      peers: [web.id],
      maxAttempts: 1,
    })
    const [r] = (await job.result) as Array<Record<string, { ok: boolean; error?: string; value?: string }>>
    expect(job.batches.map((b) => [b.peer, b.platform])).toEqual([[web.id, 'browser']])
    expect(r.origin).toBe('null') // an opaque origin
    expect(r.document).toMatchObject({ ok: false, error: expect.stringMatching(/^ReferenceError/) })
    expect(r.cookie).toMatchObject({ ok: false, error: expect.stringMatching(/^ReferenceError/) })
    expect(r.localStorage).toMatchObject({ ok: false, error: expect.stringMatching(/^ReferenceError/) })
    expect(r.indexedDB).toMatchObject({ ok: false })
    expect(r.fetch).toMatchObject({ ok: false, error: expect.stringMatching(/^TypeError/) })
    expect(r.fetchCors).toMatchObject({ ok: false, error: expect.stringMatching(/^TypeError/) })
    expect(r.webSocket).toMatchObject({ ok: false })
    cors.closeAllConnections()
    await new Promise((res) => cors.close(res))
    expect(hits).toEqual([]) // nothing left the sandbox
    expect(r.parent).toMatchObject({ ok: false, error: expect.stringMatching(/^ReferenceError/) })
    // the page itself still has them
    expect(await web.page.evaluate(() => [document.cookie, localStorage.getItem('pcsecret')])).toEqual([
      'pcsecret=page-cookie',
      'page-storage',
    ])
  })

  it('a tampered byte in the code is refused in the page with UntrustedCodeError; the page serves on', async () => {
    const good = await signBundle(INC, { name: 'inc', version: '1.0.0', kind: 'kernel' }, key)
    const tampered = good.slice()
    tampered[tampered.length - 3] ^= 1 // a byte of the code: its hash no longer matches the manifest
    const failedBefore = await web.page.evaluate(() => window.pcnode.status().tasks.executor.failed)
    const bad = submitter.compute.map({ code: tampered, inputs: [1], peers: [web.id], maxAttempts: 1 })
    const err = await bad.result.then(
      () => undefined,
      (e: Error) => e,
    )
    expect(err).toBeDefined()
    expect(err?.message).toMatch(/reported UntrustedCodeError/)
    await web.page.waitForFunction((n) => window.pcnode.status().tasks.executor.failed > n, failedBefore, {
      timeout: 10_000,
    })
    const ok = submitter.compute.map({ code: good, inputs: [1, 2, 3], peers: [web.id] })
    expect(await ok.result).toEqual([2, 3, 4])
    expect(ok.batches.every((b) => b.peer === web.id && b.platform === 'browser')).toBe(true)
  })

  it('hostile kernels at the sandbox boundary: junk on the port, a forged or unasked result, an output that cannot travel, a hang; each fails its task, the page serves on', async () => {
    // the sandbox's own port is in the worker's global scope, so a kernel can post on it
    const attacks: Array<[string, string, RegExp, { timeoutMs?: number }?]> = [
      ['junk', 'port.postMessage("junk"); export default () => new Promise(() => {})\n', /WorkerCrashedError/],
      [
        'forged',
        // rewrites the sandbox's own answer (loaded before the first one is sent): more results than items
        'const post = port.postMessage.bind(port)\nport.postMessage = (m) => post(m && m.t === "done" ? { ...m, ok: true, out: [1, 2, 3, 4] } : m)\nexport default (x) => x\n',
        /WorkerCrashedError/,
      ],
      [
        'unasked',
        'export default () => { port.postMessage({ t: "done", id: -1, ok: true, out: [] }); return new Promise(() => {}) }\n',
        /WorkerCrashedError/,
      ],
      ['uncloneable', 'export default () => () => 1\n', /DataCloneError/],
      ['hang', 'export default () => new Promise(() => {})\n', /TaskTimeoutError/, { timeoutMs: 500 }],
    ]
    for (const [name, src, why, limits] of attacks) {
      const bundle = await signBundle(
        enc.encode(src),
        { name, version: '1.0.0', kind: 'kernel', ...(limits ? { limits } : {}) },
        key,
      )
      const job = submitter.compute.map({
        code: bundle,
        inputs: [1],
        peers: [web.id],
        maxAttempts: 1,
      })
      const err = await job.result.then(
        () => undefined,
        (e: Error) => e,
      )
      expect(err?.message, name).toMatch(why)
    }
    const ok = submitter.compute.map({
      code: await signBundle(INC, { name: 'inc', version: '1.0.2', kind: 'kernel' }, key),
      inputs: [10, 20],
      peers: [web.id],
    })
    expect(await ok.result).toEqual([11, 21])
    const st = await web.page.evaluate(() => window.pcnode.status().tasks.executor)
    expect(st.failed).toBeGreaterThanOrEqual(attacks.length)
    // each misbehaving sandbox was ended (its iframe removed), not left beside its replacement
    const frames = await web.page.evaluate(() => [
      document.querySelectorAll('iframe[sandbox]').length,
      Math.max(1, navigator.hardwareConcurrency - 1),
    ])
    expect(frames[0]).toBeGreaterThan(0)
    expect(frames[0]).toBeLessThanOrEqual(frames[1])
  })

  it("a page with a strict Content-Security-Policy runs the sandbox when its script-src allows the sandbox script's hash", async () => {
    const hash = await sandboxScriptHash()
    const strict = (withHash: boolean) =>
      [
        "default-src 'self'",
        `script-src 'self' ${withHash ? hash : ''} data: 'wasm-unsafe-eval'`,
        "worker-src 'self' blob:",
        "style-src 'self' 'unsafe-inline'",
        'connect-src ws://127.0.0.1:* http://127.0.0.1:*',
      ].join('; ')
    // a server of the same pages whose every response carries the policy (?csp=nohash: the policy without the hash)
    const strictServer = await serveDev({
      optimizeDeps: { include: ['y-indexeddb'] },
      plugins: [
        {
          name: 'strict-csp',
          configureServer(vite) {
            vite.middlewares.use((req, res, next) => {
              res.setHeader('content-security-policy', strict(!req.url?.includes('csp=nohash')))
              next()
            })
          },
        },
      ],
    })
    cleanups.push(() => strictServer.close())
    await context.grantPermissions(['camera', 'microphone'], { origin: strictServer.url })
    const openStrict = async (withHash: boolean) => {
      const page = await context.newPage()
      cleanups.push(() => page.close())
      await page.goto(
        `${strictServer.url}/node/?relay=${encodeURIComponent(relay.wsAddr)}&trust=${encodeURIComponent(publicKey)}${withHash ? '' : '&csp=nohash'}`,
      )
      await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 })
      const id = await page.evaluate(() => window.pcnode.peerId)
      await waitFor('the submitter sees the strict page', () =>
        submitter.getStatus().peers.some((p) => p.id === id && p.connected && p.caps.kernels.length > 0),
      )
      return { page, id }
    }
    const bundle = await signBundle(INC, { name: 'inc', version: '1.0.3', kind: 'kernel' }, key)
    const allowed = await openStrict(true)
    const ok = submitter.compute.map({ code: bundle, inputs: [1, 2], peers: [allowed.id], maxAttempts: 1 })
    expect(await ok.result).toEqual([2, 3])
    // without the hash the page's policy blocks the sandbox's script: the task fails, it does not hang
    const blocked = await openStrict(false)
    const bad = submitter.compute.map({ code: bundle, inputs: [1], peers: [blocked.id], maxAttempts: 1 })
    const err = await bad.result.then(
      () => undefined,
      (e: Error) => e,
    )
    expect(err?.message).toMatch(/WorkerCrashedError/)
    await allowed.page.close()
    await blocked.page.close()
  }, 90_000)

  it('10,000 items over 2 Node workers and the page, one worker SIGKILLed mid-job: the local results, in order; the page’s items marked browser', async () => {
    const bundle = await signBundle(INC, { name: 'inc', version: '1.0.1', kind: 'kernel' }, key)
    const N = 10_000
    const victim = workers[0]
    let release!: () => void
    const killed = new Promise<void>((r) => {
      release = r
    })
    // the second half of the items waits until the victim is dead, so it dies with the job half done
    async function* items(): AsyncGenerator<number> {
      for (let i = 0; i < N; i++) {
        if (i === N / 2) await killed
        yield i
      }
    }
    const job = submitter.compute.map({
      code: bundle,
      inputs: items(),
      batchItems: 100,
      includeLocal: false,
      peers: [web.id, ...workers.map((w) => w.id)], // not the pages the CSP test closed
    })
    await waitFor('the victim finished a batch', () => job.batches.some((b) => b.peer === victim.id), 60_000)
    victim.proc.kill('SIGKILL')
    await new Promise((r) => victim.proc.once('exit', r))
    const doneAtKill = job.batches.length
    release()
    const streamed: unknown[] = []
    for await (const v of job) streamed.push(v)
    const result = await job.result
    const local = Array.from({ length: N }, (_, i) => i + 1)
    expect(result).toEqual(local)
    expect(streamed).toEqual(local)
    expect(doneAtKill).toBeLessThan(N / 100)
    const byPlatform = new Map<string, number>()
    for (const b of job.batches) byPlatform.set(b.platform, (byPlatform.get(b.platform) ?? 0) + b.count)
    const onPage = job.batches.filter((b) => b.peer === web.id)
    expect(onPage.length).toBeGreaterThan(0)
    expect(onPage.every((b) => b.platform === 'browser')).toBe(true)
    expect(byPlatform.get('browser')).toBe(onPage.reduce((s, b) => s + b.count, 0))
    expect((byPlatform.get('browser') ?? 0) + (byPlatform.get('node') ?? 0)).toBe(N)
    // after the kill the survivors took the rest
    const after = job.batches.slice(doneAtKill)
    expect(after.length).toBeGreaterThan(0)
    expect(after.some((b) => b.peer === victim.id)).toBe(false)
    expect(new Set(job.batches.map((b) => b.peer))).toEqual(new Set([web.id, ...workers.map((w) => w.id)]))
  }, 180_000)
})
