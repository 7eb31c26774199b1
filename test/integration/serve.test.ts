// `peercompute serve` end to end: the CLI in its own process (relay, submitting
// node, HTTP job API), two worker processes, and a loopback data host. Submit,
// follow the SSE stream to `done`, fetch the result and compare it with the
// local kernel; cancel a running job; the API's refusals; the OpenAPI
// document; and `promtool check metrics` on /metrics.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32c, fnv64 } from '@peercompute/kernels'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI, loopbackOnly, startWorkerProcess, waitFor } from './helpers.js'

/** Byte `i` of the data host's files: a fixed pattern, so a file of any size needs no memory. */
const byteAt = (i: number) => (i * 131 + (i >>> 11) * 7 + 3) & 0xff
const fill = (from: number, n: number) => Uint8Array.from({ length: n }, (_, k) => byteAt(from + k))

const SMALL = 3 << 20
/** The slow file: many pieces, each range answered after a pause. */
const SLOW = 256 << 20

let dir = ''
let serve: ChildProcess | undefined
const workers: ChildProcess[] = []
let dataHost: Server | undefined
let base = ''
let dataUrl = ''
let token = ''
let slowInFlight = 0

/** Ranges of /small.bin and /slow.bin (pattern bytes); /slow.bin waits 150 ms first. */
function startDataHost(): Promise<Server> {
  const server = createServer((req, res) => {
    const size = req.url === '/slow.bin' ? SLOW : SMALL
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')
    if (!m) {
      res.writeHead(200, { 'content-length': size, 'accept-ranges': 'bytes' })
      res.end(req.method === 'HEAD' ? undefined : fill(0, Math.min(size, SMALL)))
      return
    }
    const a = Number(m[1])
    const b = Math.min(Number(m[2]), size - 1)
    const send = () => {
      res.writeHead(206, { 'content-range': `bytes ${a}-${b}/${size}`, 'content-length': b - a + 1 })
      res.end(fill(a, b - a + 1))
    }
    if (req.url !== '/slow.bin') return send()
    slowInFlight++
    const t = setTimeout(send, 150)
    res.once('close', () => {
      clearTimeout(t)
      slowInFlight--
    })
  })
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)))
}

/** Kills a child by its pid: SIGTERM, then SIGKILL after 5 s. */
function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 5000)
    child.once('exit', () => {
      clearTimeout(t)
      resolve()
    })
    child.kill('SIGTERM')
  })
}

/** Server-sent events of `res`, as they come. */
async function* events(res: Response): AsyncGenerator<{ event: string; data: unknown }> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  const decoder = new TextDecoder()
  let buf = ''
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) return
      buf += decoder.decode(value, { stream: true })
      for (let i = buf.indexOf('\n\n'); i >= 0; i = buf.indexOf('\n\n')) {
        const block = buf.slice(0, i)
        buf = buf.slice(i + 2)
        const event = /^event: (.*)$/m.exec(block)?.[1]
        const data = /^data: (.*)$/m.exec(block)?.[1]
        if (event && data !== undefined) yield { event, data: JSON.parse(data) }
      }
    }
  } finally {
    await reader.cancel().catch(() => {})
  }
}

const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}/api/jobs`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  })

describe.runIf(loopbackOnly)('peercompute serve', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pc-serve-'))
    dataHost = await startDataHost()
    dataUrl = `http://127.0.0.1:${(dataHost.address() as AddressInfo).port}`
    const args = ['serve', '--port', '0', '--relay-ws-port', '0', '--relay-tcp-port', '0', '--relay-http-port', '0']
    serve = spawn(process.execPath, [CLI, ...args, '--data-dir', dir, '--loopback'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const proc = serve
    const { url, relay } = await new Promise<{ url: string; relay: string }>((resolve, reject) => {
      let out = ''
      proc.stdout?.on('data', (b: Buffer) => {
        out += b
        const url = /serving (http:\S+)/.exec(out)?.[1]
        const relay = /relay listening: (\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/\S+)/.exec(out)?.[1]
        if (url && relay) resolve({ url, relay })
      })
      proc.once('exit', (code) => reject(new Error(`serve exited (${code}) before it was ready:\n${out}`)))
    })
    base = url
    token = readFileSync(join(dir, 'relay.token'), 'utf8').trim()
    for (const w of await Promise.all([startWorkerProcess(relay), startWorkerProcess(relay)])) workers.push(w.proc)
    // the relay's registry, through serve's own port: the submitting node and both workers
    let peers = 0
    const t0 = Date.now()
    while (peers < 3 && Date.now() - t0 < 30_000) {
      const res = await fetch(`${base}/api/peers`, { headers: { authorization: `Bearer ${token}` } })
      peers = ((await res.json()) as { peers: unknown[] }).peers.length
      if (peers < 3) await new Promise((r) => setTimeout(r, 200)) // a poll, as waitFor does
    }
    expect(peers).toBeGreaterThanOrEqual(3)
  }, 90_000)

  afterAll(async () => {
    await Promise.all([stop(serve), ...workers.map(stop)])
    await new Promise((r) => dataHost?.close(r))
    if (dir) rmSync(dir, { recursive: true, force: true })
  }, 30_000)

  it('runs a job: submit, follow the SSE stream to done, fetch the result; it equals the local kernel', async () => {
    const res = await post({ kernel: 'crc32c', source: { url: `${dataUrl}/small.bin` }, pieceSize: 256 << 10 })
    expect(res.status).toBe(201)
    const job = (await res.json()) as { id: string }
    expect(res.headers.get('location')).toBe(`/api/jobs/${job.id}`)
    const seen: string[] = []
    let done: { state: string; result: number } | undefined
    for await (const e of events(await fetch(`${base}/api/jobs/${job.id}/events`))) {
      seen.push(e.event)
      if (e.event === 'done') done = e.data as typeof done
    }
    expect(seen[0]).toBe('progress')
    expect(seen.filter((e) => e === 'piece')).toHaveLength(12)
    expect(done?.state).toBe('done')
    const want = crc32c(fill(0, SMALL))
    expect(done?.result).toBe(want)
    const got = await (await fetch(`${base}/api/jobs/${job.id}`)).json()
    expect(got).toMatchObject({ state: 'done', result: want, progress: { done: SMALL, total: SMALL, pieces: 12 } })
    expect(got.pieces).toHaveLength(12)
    for (const p of got.pieces) {
      expect(p).toMatchObject({ bytes: 256 << 10, outcome: 'ok' })
      expect(['node', 'local']).toContain(p.substrate) // a worker's piece, or one the serving node ran itself
    }

    // inline bytes, and a bigint result as a decimal string
    const bytes = fill(5, 10_000)
    const f = await post({ kernel: 'fnv64', source: { inline: Buffer.from(bytes).toString('base64') } })
    const fj = (await f.json()) as { id: string }
    let state = ''
    let result: unknown
    for await (const e of events(await fetch(`${base}/api/jobs/${fj.id}/events`)))
      if (e.event === 'done') ({ state, result } = e.data as { state: string; result: unknown })
    expect(state).toBe('done')
    expect(result).toBe(fnv64(bytes).toString())
  })

  it('cancels a running job: DELETE answers cancelled, the stream ends with it, remote fetches stop', async () => {
    const res = await post({ kernel: 'counteq', imm: 7, source: { url: `${dataUrl}/slow.bin` }, pieceSize: 64 << 10 })
    const job = (await res.json()) as { id: string }
    let deleted: { state: string } | undefined
    let done: { state: string; progress: { done: number; total: number }; error?: { name: string } } | undefined
    for await (const e of events(await fetch(`${base}/api/jobs/${job.id}/events`))) {
      if (e.event === 'piece' && !deleted) {
        const del = await fetch(`${base}/api/jobs/${job.id}`, {
          method: 'DELETE',
          headers: { authorization: `Bearer ${token}` },
        })
        expect(del.status).toBe(200)
        deleted = (await del.json()) as { state: string }
      }
      if (e.event === 'done') done = e.data as typeof done
    }
    expect(deleted?.state).toBe('cancelled')
    expect(done?.state).toBe('cancelled')
    expect(done?.error?.name).toBe('AbortError')
    expect(done?.progress.total).toBe(SLOW)
    expect(done?.progress.done).toBeLessThan(SLOW)
    // the workers stop fetching: no range request of the job is left open
    await waitFor('no range of the cancelled job in flight', () => slowInFlight === 0, 20_000)
    expect((await (await fetch(`${base}/api/jobs/${job.id}`)).json()).state).toBe('cancelled')
  })

  it('refuses: a bad body (400 problem), no token (401); a repeated Idempotency-Key gives the same job', async () => {
    const bad = await post({ kernel: 'crc32c', source: { url: 'ftp://x' } })
    expect(bad.status).toBe(400)
    expect(bad.headers.get('content-type')).toBe('application/problem+json')
    expect(await bad.json()).toMatchObject({ type: 'about:blank', title: 'Bad Request', status: 400 })

    const body = { kernel: 'crc32c', source: { inline: Buffer.from('123456789').toString('base64') } }
    const anon = await fetch(`${base}/api/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    expect(anon.status).toBe(401)
    expect((await anon.json()).status).toBe(401)

    const key = { 'idempotency-key': `it-${Date.now()}` }
    const a = await post(body, key)
    const b = await post(body, key)
    expect([a.status, b.status]).toEqual([201, 200])
    expect(((await b.json()) as { id: string }).id).toBe(((await a.json()) as { id: string }).id)
  })

  it('describes itself: /api/openapi.json parses and lists the paths', async () => {
    const doc = await (await fetch(`${base}/api/openapi.json`)).json()
    expect(doc.openapi).toMatch(/^3\.1/)
    for (const p of ['/api/jobs', '/api/jobs/{id}', '/api/jobs/{id}/events', '/api/events', '/api/openapi.json'])
      expect(doc.paths).toHaveProperty([p])
  })

  it('/metrics passes promtool check metrics (apart from libp2p’s own names)', async () => {
    const text = await (await fetch(`${base}/metrics`)).text()
    expect(text).toMatch(/peercompute_serve_piece_duration_seconds_bucket\{le="[^"]+",substrate="node"\} [1-9]/)
    expect(text).toMatch(/peercompute_serve_jobs_finished_total\{state="cancelled"\} [1-9]/)
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 })
    expect(check.error, 'promtool (Debian package prometheus) must be installed').toBeUndefined()
    const problems = `${check.stdout}${check.stderr}`.split('\n').filter((l) => l.trim() && !/\blibp2p_/.test(l))
    expect(problems).toEqual([])
  })

  it('stops on SIGTERM: the jobs, the node and the relay stopped, exit code 0', async () => {
    const proc = serve as ChildProcess
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))
    proc.kill('SIGTERM')
    expect(await exited).toBe(0)
    await expect(fetch(`${base}/api/jobs`)).rejects.toThrow() // nothing listens any more
  })
})
