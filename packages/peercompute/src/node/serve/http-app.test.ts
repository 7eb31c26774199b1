import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Hono } from 'hono'
import { afterEach, describe, expect, it } from 'vitest'
import type { JobResult, PieceReport } from '../../core/compute/mesh/job-types.js'
import type { SubmitSpec } from '../../core/compute/mesh/submit-task.js'
import { AbortError, UrlNotAllowedError } from '../../core/errors.js'
import { createHttpApp, type HttpAppInit, MAX_BODY_BYTES } from './http-app.js'
import { JobMetrics } from './job-metrics.js'
import { JobService, type JobServiceInit, type MeshJob } from './job-service.js'
import { SseHub } from './sse.js'

const TOKEN = 'a'.repeat(43)
const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }

/** A mesh job the test drives by hand. */
class FakeJob extends EventTarget {
  readonly spec: SubmitSpec
  resolve!: (r: JobResult) => void
  reject!: (e: Error) => void
  readonly result = new Promise<JobResult>((res, rej) => {
    this.resolve = res
    this.reject = rej
  })
  cancelled = false
  constructor(spec: SubmitSpec) {
    super()
    this.spec = spec
    this.result.catch(() => {})
  }
  cancel(): void {
    this.cancelled = true
    this.reject(new AbortError('the job was cancelled'))
  }
  piece(index: number, length: number, costUsd = 0.001): void {
    const run = { peer: 'p1', substrate: 'node', attempt: 1, ok: true, execMs: 1, wallMs: 5, costUsd }
    const report: PieceReport = {
      index,
      offset: index * length,
      length,
      peer: 'p1',
      substrate: 'node',
      attempts: 1,
      execMs: 1,
      wallMs: 5,
      costUsd,
      runs: [run],
    }
    this.dispatchEvent(new CustomEvent('piece', { detail: report }))
    this.dispatchEvent(
      new CustomEvent('progress', {
        detail: { bytesDone: (index + 1) * length, bytesTotal: 0, piecesDone: index + 1 },
      }),
    )
  }
  finish(result: JobResult['result']): void {
    this.resolve({
      success: true,
      result,
      substrate: 'node',
      peers: ['p1'],
      executionTimeMs: 1,
      costUsd: 0.002,
      pieces: [],
      liars: [],
      replaced: 0,
    })
  }
}

const stops: Array<() => void> = []
afterEach(() => {
  for (const s of stops.splice(0)) s()
})

function setup(init: Partial<JobServiceInit> = {}, dashboardDir?: string, relayApp?: HttpAppInit['relayApp']) {
  const jobs: FakeJob[] = []
  let service: JobService | undefined
  const metrics = new JobMetrics(() => service?.countByState() ?? {})
  service = new JobService({
    submit: (spec) => {
      const j = new FakeJob(spec)
      jobs.push(j)
      return j as unknown as MeshJob
    },
    metrics,
    ...init,
  })
  const hub = new SseHub()
  const svc = service
  stops.push(
    () => svc.stop(),
    () => hub.stop(),
  )
  const app = createHttpApp({
    service,
    hub,
    token: TOKEN,
    version: 'test',
    dashboardDir,
    relayApp,
    metrics: async () => ({ text: await metrics.registry.metrics(), contentType: metrics.registry.contentType }),
  })
  const post = (body: unknown, headers: Record<string, string> = auth) =>
    app.request('/api/jobs', {
      method: 'POST',
      headers,
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })
  return { app, service, jobs, post }
}

const inline = (s: string) => ({ kernel: 'crc32c', source: { inline: Buffer.from(s).toString('base64') } })
const settle = () => new Promise((r) => setImmediate(r))

describe('the job API', () => {
  it('refuses writes without the right token: 401 problem', async () => {
    const { app, post } = setup()
    for (const headers of [{ 'content-type': 'application/json' }, { ...auth, authorization: 'Bearer wrong' }]) {
      const res = await post(inline('x'), headers)
      expect(res.status).toBe(401)
      expect(res.headers.get('content-type')).toBe('application/problem+json')
      expect((await res.json()).status).toBe(401)
    }
    expect((await app.request('/api/jobs/x', { method: 'DELETE' })).status).toBe(401)
  })

  it('answers bad bodies with 400 problem documents that say what is wrong', async () => {
    const { post, service } = setup()
    const cases: Array<[unknown, RegExp]> = [
      ['{"kernel":', /not JSON/],
      [{ kernel: 'sha1', source: { inline: '' } }, /kernel/],
      [{ kernel: 'crc32c' }, /source/],
      [{ kernel: 'crc32c', source: { url: 'file:///etc/passwd' } }, /http/],
      [{ kernel: 'crc32c', source: { inline: '***' } }, /source/],
      [{ ...inline('abc'), imm: 300 }, /imm/],
      [{ ...inline('abc'), extra: 1 }, /extra/],
      [{ ...inline('abc'), offset: 2, length: 5 }, /past the 3 inline bytes/],
      [[1, 2], /a JSON object/],
      ['null', /a JSON object/],
    ]
    for (const [body, detail] of cases) {
      const res = await post(body)
      expect(res.status, JSON.stringify(body)).toBe(400)
      const doc = await res.json()
      expect(doc).toMatchObject({ type: 'about:blank', title: 'Bad Request', status: 400 })
      expect(doc.detail).toMatch(detail)
    }
    expect(service.list(10).jobs).toHaveLength(0)
  })

  it('refuses a URL the node may not fetch: 400', async () => {
    const { post } = setup({
      checkUrl: (url) => {
        if (url.includes('169.254.169.254')) throw new UrlNotAllowedError(`${url}: a metadata address`)
      },
    })
    const res = await post({ kernel: 'crc32c', source: { url: 'http://169.254.169.254/latest' }, length: 10 })
    expect(res.status).toBe(400)
    expect((await res.json()).detail).toMatch(/metadata/)
  })

  it('refuses a body over the limit (413) and a body that is not JSON by type (415)', async () => {
    const { post } = setup()
    const big = JSON.stringify({ kernel: 'crc32c', source: { inline: 'A'.repeat(MAX_BODY_BYTES) } })
    expect((await post(big)).status).toBe(413)
    expect((await post(inline('x'), { authorization: auth.authorization, 'content-type': 'text/plain' })).status).toBe(
      415,
    )
  })

  it('runs a job: 201 with Location, progress and pieces, then the result', async () => {
    const { app, post, jobs } = setup()
    const res = await post({ ...inline('123456789'), imm: 7, redundancy: 2, pieceSize: 4096 })
    expect(res.status).toBe(201)
    const job = await res.json()
    expect(res.headers.get('location')).toBe(`/api/jobs/${job.id}`)
    expect(job).toMatchObject({ state: 'running', kernel: 'crc32c', progress: { done: 0, total: 9 } })
    await settle()
    expect(jobs[0].spec).toMatchObject({ op: 'crc32c', imm: 7, redundancy: 2, pieceBytes: 4096 })
    expect(Buffer.from(jobs[0].spec.data as Uint8Array).toString()).toBe('123456789')
    jobs[0].piece(0, 9)
    jobs[0].finish(0xe3069283)
    await settle()
    const got = await (await app.request(`/api/jobs/${job.id}`)).json()
    expect(got).toMatchObject({ state: 'done', result: 0xe3069283, progress: { done: 9, pieces: 1 } })
    expect(got.pieces[0]).toMatchObject({ index: 0, peer: 'p1', substrate: 'node', bytes: 9, outcome: 'ok' })
    expect(got.finishedAt).toBeTypeOf('string')
  })

  it('gives results as the kernel does: bigint as a decimal string, bytes as base64 with size and CRC', async () => {
    const { app, post, jobs } = setup()
    const a = await (await post({ ...inline('x'), kernel: 'fnv64' })).json()
    const b = await (await post({ ...inline('xyz'), kernel: 'xor', imm: 1 })).json()
    await settle()
    jobs[0].finish(0xcbf29ce484222325n)
    jobs[1].finish(new Uint8Array([121, 120, 123]))
    await settle()
    expect((await (await app.request(`/api/jobs/${a.id}`)).json()).result).toBe('14695981039346656037')
    const xb = await (await app.request(`/api/jobs/${b.id}`)).json()
    expect(Buffer.from(xb.result, 'base64')).toEqual(Buffer.from([121, 120, 123]))
    expect(xb.resultBytes).toBe(3)
    expect(xb.resultCrc32c).toMatch(/^[0-9a-f]{8}$/)
  })

  it('a repeated Idempotency-Key gives the same job; with another body, 409', async () => {
    const { post, service } = setup()
    const h = { ...auth, 'idempotency-key': 'order-42' }
    const first = await post(inline('abc'), h)
    const again = await post(inline('abc'), h)
    expect(first.status).toBe(201)
    expect(again.status).toBe(200)
    expect((await again.json()).id).toBe((await first.json()).id)
    const other = await post(inline('abd'), h)
    expect(other.status).toBe(409)
    expect(other.headers.get('content-type')).toBe('application/problem+json')
    expect((await post(inline('abc'), { ...auth, 'idempotency-key': 'x'.repeat(201) })).status).toBe(400)
    expect(service.list(10).jobs).toHaveLength(1)
  })

  it('cancels queued and running jobs; a finished one is left as it is; unknown ids are 404', async () => {
    const { app, post, jobs } = setup({ maxRunning: 1 })
    const run = await (await post(inline('a'))).json()
    const queued = await (await post(inline('b'))).json()
    await settle()
    expect(jobs).toHaveLength(1)
    const del = (id: string) => app.request(`/api/jobs/${id}`, { method: 'DELETE', headers: auth })
    expect(await (await del(queued.id)).json()).toMatchObject({ state: 'cancelled' })
    const r = await (await del(run.id)).json()
    expect(jobs[0].cancelled).toBe(true)
    await settle()
    expect((await (await app.request(`/api/jobs/${run.id}`)).json()).state).toBe('cancelled')
    expect(r.id).toBe(run.id)
    expect(jobs).toHaveLength(1) // the cancelled queued job never started
    expect((await del('job-nope')).status).toBe(404)
    expect((await app.request('/api/jobs/job-nope')).status).toBe(404)
  })

  it('bounds waiting jobs (429) and keeps a bounded history', async () => {
    const { post, service, jobs } = setup({ maxRunning: 1, maxQueued: 2, maxHistory: 3 })
    expect((await post(inline('1'))).status).toBe(201)
    await settle()
    expect((await post(inline('2'))).status).toBe(201)
    expect((await post(inline('3'))).status).toBe(201)
    const full = await post(inline('4'))
    expect(full.status).toBe(429)
    expect(full.headers.get('retry-after')).toBe('5')
    for (let i = 0; i < 3; i++) {
      jobs[i].finish(i)
      await settle()
      await settle()
    }
    for (let i = 0; i < 3; i++) {
      expect((await post(inline(`more${i}`))).status).toBe(201)
      await settle()
      jobs[3 + i].finish(i)
      await settle()
    }
    const held = service.countByState()
    expect(held.done).toBe(3)
  })

  it('lists newest first, paginated by cursor', async () => {
    const { app, post } = setup({ maxQueued: 100 })
    const ids: string[] = []
    for (let i = 0; i < 5; i++) ids.push((await (await post(inline(String(i)))).json()).id)
    const p1 = await (await app.request('/api/jobs?limit=2')).json()
    expect(p1.jobs.map((j: { id: string }) => j.id)).toEqual([ids[4], ids[3]])
    expect(p1.jobs[0].pieces).toBeUndefined()
    const p2 = await (await app.request(`/api/jobs?limit=2&cursor=${p1.next}`)).json()
    expect(p2.jobs.map((j: { id: string }) => j.id)).toEqual([ids[2], ids[1]])
    const p3 = await (await app.request(`/api/jobs?limit=2&cursor=${p2.next}`)).json()
    expect(p3.jobs.map((j: { id: string }) => j.id)).toEqual([ids[0]])
    expect(p3.next).toBeNull()
    for (const q of ['limit=0', 'limit=101', 'limit=x', 'cursor=-1'])
      expect((await app.request(`/api/jobs?${q}`)).status).toBe(400)
  })

  it('streams a job: current state first, pieces, then done, then the stream ends', async () => {
    const { app, post, jobs } = setup()
    const job = await (await post(inline('123456789'))).json()
    await settle()
    const res = await app.request(`/api/jobs/${job.id}/events`)
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/)
    jobs[0].piece(0, 9)
    jobs[0].finish(1)
    const text = await res.text() // ends after done
    const events = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1])
    expect(events[0]).toBe('progress')
    expect(events).toContain('piece')
    expect(events.at(-1)).toBe('done')
    const done = JSON.parse(text.trim().split('\n').at(-1)?.slice(6) as string)
    expect(done).toMatchObject({ id: job.id, state: 'done', result: 1 })
    // a late client gets the final state at once
    const late = await (await app.request(`/api/jobs/${job.id}/events`)).text()
    expect(late).toMatch(/event: done/)
  })

  it('serves an OpenAPI document that lists every path, and job metrics', async () => {
    const { app, post, jobs, service } = setup()
    const doc = await (await app.request('/api/openapi.json')).json()
    expect(doc.openapi).toBe('3.1.0')
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/jobs', '/api/jobs/{id}', '/api/jobs/{id}/events', '/api/events']),
    )
    expect(doc.components.schemas.JobRequest.properties.kernel.enum).toContain('crc32c')
    await post(inline('x'))
    await settle()
    jobs[0].piece(0, 1, 0.25)
    jobs[0].finish(1)
    await settle()
    expect(service.stats()).toMatchObject({ tasksPerSec: 1, bytesPerSec: 1, costUsd: 0.25 })
    const m = await (await app.request('/metrics')).text()
    expect(m).toMatch(/peercompute_serve_jobs_finished_total\{state="done"\} 1/)
    expect(m).toMatch(/peercompute_serve_piece_runs_total\{substrate="node",outcome="ok"\} 1/)
    expect(m).toMatch(/peercompute_serve_cost_usd_total\{substrate="node"\} 0.25/)
    expect(m).toMatch(/peercompute_serve_piece_duration_seconds_count\{substrate="node"\} 1/)
  })

  it('serves the dashboard at / when its folder exists, and nothing outside it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pc-dash-'))
    stops.push(() => rmSync(dir, { recursive: true, force: true }))
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>dashboard</title>')
    const { app } = setup({}, dir)
    const page = await app.request('/')
    expect(page.status).toBe(200)
    expect(await page.text()).toMatch(/<title>dashboard/)
    for (const path of ['/../../../etc/passwd', '/..%2f..%2f..%2fetc%2fpasswd', '/%2e%2e/%2e%2e/etc/passwd'])
      expect(await (await app.request(path)).text()).not.toMatch(/root:/)
    // the API's own 404s stay problem documents
    expect((await app.request('/api/nope')).headers.get('content-type')).toBe('application/problem+json')
    // without the folder, / is a 404, never a crash
    expect((await setup().app.request('/')).status).toBe(404)
  })

  it("mounts a relay's hono app after the job API: its routes and pages, the job API's first", async () => {
    const relay: HttpAppInit['relayApp'] = new Hono()
    relay.get('/api/capacity', (c) => c.json({ total: { peers: 3 } }))
    relay.get('/api/jobs', (c) => c.text('shadowed'))
    relay.get('/', (c) => c.html('<title>relay dashboard</title>'))
    const { app } = setup({}, undefined, relay)
    expect(await (await app.request('/api/capacity')).json()).toEqual({ total: { peers: 3 } })
    expect(await (await app.request('/')).text()).toMatch(/relay dashboard/)
    expect((await (await app.request('/api/jobs')).json()).jobs).toEqual([])
    const none = await app.request('/elsewhere')
    expect(none.status).toBe(404)
    expect(none.headers.get('content-type')).toBe('application/problem+json')
  })

  it('streams every job for dashboards: jobs as they are made and end, and stats', async () => {
    const { app, post, jobs } = setup()
    const res = await app.request('/api/events')
    const reader = (res.body as ReadableStream<Uint8Array>).getReader()
    const decoder = new TextDecoder()
    const job = await (await post(inline('abc'))).json()
    await settle()
    jobs[0].finish(7)
    let text = ''
    while (!/"state":"done"/.test(text)) text += decoder.decode((await reader.read()).value)
    await reader.cancel()
    expect(text).toMatch(/^event: stats\ndata: \{"at":\d+,"tasksPerSec":0,"bytesPerSec":0,"costUsd":0\}$/m)
    const states = [...text.matchAll(/^event: job\ndata: (.*)$/gm)].map((m) => JSON.parse(m[1]))
    expect(states.every((j) => j.id === job.id && j.pieces === undefined)).toBe(true)
    expect(states.at(-1)).toMatchObject({ state: 'done', result: 7 })
  })
})
