// Attacks on `peercompute serve`'s HTTP job API: oversized and endless bodies,
// malformed JSON, thousands of event streams, a stream reader that never
// reads, thousands of Idempotency-Keys, and token guessing. For each: the
// answer is a refusal (a problem document or 503), nothing is unhandled, every
// budget holds, and the server keeps answering honest requests. The mesh
// behind the API is a stand-in: these attacks are on the HTTP edge.
import { type ClientRequest, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type ServerType, serve } from '@hono/node-server'
import {
  AbortError,
  createHttpApp,
  type JobResult,
  JobService,
  type JobServiceInit,
  type MeshJob,
  type PieceReport,
  SseHub,
  type SseLimits,
} from 'peercompute'
import { afterEach, describe, expect, it } from 'vitest'
import { waitFor } from '../integration/helpers.js'
import { watchUnhandled } from './attacker.js'

const TOKEN = 't'.repeat(43)
const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => {})
})

/** A mesh job that ends when told to (or at once with `autoFinish`), and emits pieces on demand. */
class StandIn extends EventTarget {
  resolve!: (r: JobResult) => void
  reject!: (e: Error) => void
  readonly result = new Promise<JobResult>((res, rej) => {
    this.resolve = res
    this.reject = rej
  })
  constructor() {
    super()
    this.result.catch(() => {})
  }
  cancel() {
    this.reject(new AbortError('cancelled'))
  }
  finish() {
    const r = { success: true, result: 1, substrate: 'node', peers: [], executionTimeMs: 1, costUsd: 0 }
    this.resolve({ ...r, pieces: [], liars: [], replaced: 0 } as JobResult)
  }
  piece(index: number) {
    const run = { peer: 'p', substrate: 'node', attempt: 1, ok: true, execMs: 1, wallMs: 1, costUsd: 0 }
    const p: PieceReport = { index, offset: 0, length: 1, peer: 'p', substrate: 'node', attempts: 1 } as PieceReport
    this.dispatchEvent(new CustomEvent('piece', { detail: { ...p, execMs: 1, wallMs: 1, costUsd: 0, runs: [run] } }))
  }
}

async function server(opts: { jobs?: Partial<JobServiceInit>; sse?: Partial<SseLimits>; autoFinish?: boolean } = {}) {
  const made: StandIn[] = []
  const service = new JobService({
    ...opts.jobs,
    submit: () => {
      const j = new StandIn()
      made.push(j)
      if (opts.autoFinish) queueMicrotask(() => j.finish())
      return j as unknown as MeshJob
    },
  })
  const hub = new SseHub(opts.sse)
  const app = createHttpApp({
    service,
    hub,
    token: TOKEN,
    version: 'test',
    metrics: async () => ({ text: '', contentType: 'text/plain' }),
  })
  const http = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s))
  })
  cleanups.push(
    () => service.stop(),
    () => hub.stop(),
    () =>
      new Promise<void>((r) => {
        ;(http as unknown as { closeAllConnections(): void }).closeAllConnections()
        http.close(() => r())
      }),
  )
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`
  /** An honest request still gets its answer. */
  const healthy = async () => (await fetch(`${base}/api/jobs?limit=1`)).status === 200
  return { base, service, hub, made, healthy }
}

const json = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }
const job = { kernel: 'crc32c', source: { inline: Buffer.from('abc').toString('base64') } }

/** A raw request whose body the caller writes; resolves with the status (0 if the server cut it). */
function rawPost(base: string, path: string, headers: Record<string, string | number>) {
  const u = new URL(path, base)
  let req!: ClientRequest
  const status = new Promise<number>((resolve) => {
    req = request(u, { method: 'POST', headers, agent: false }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    })
    req.on('error', () => resolve(0))
  })
  return { req, status }
}

describe('hostile HTTP clients of peercompute serve', () => {
  it('oversized bodies: 413 from Content-Length, and an endless chunked body is cut; the server answers', async () => {
    const watch = watchUnhandled()
    cleanups.push(() => watch.stop())
    const { base, healthy, service } = await server()
    const declared = rawPost(base, '/api/jobs', { ...json, 'content-length': 64 << 20 })
    declared.req.write('{"kernel":"crc32c",')
    expect(await declared.status).toBe(413)
    declared.req.destroy()

    const chunked = rawPost(base, '/api/jobs', { ...json, 'transfer-encoding': 'chunked' })
    const chunk = Buffer.alloc(64 << 10, 0x41)
    let sent = 0
    let settled = false
    void chunked.status.then(() => {
      settled = true
    })
    while (!settled && sent < 64 << 20) {
      if (!chunked.req.write(chunk)) await new Promise((r) => chunked.req.once('drain', r).once('close', r))
      sent += chunk.length
      if (chunked.req.destroyed) break
    }
    expect([413, 0]).toContain(await chunked.status)
    expect(sent).toBeLessThan(64 << 20) // cut well before the attacker was done
    chunked.req.destroy()
    expect(service.list(10).jobs).toHaveLength(0)
    expect(await healthy()).toBe(true)
    expect(watch.errors).toEqual([])
  })

  it('malformed JSON of every kind is a 400 problem; nothing is made, nothing is unhandled', async () => {
    const watch = watchUnhandled()
    cleanups.push(() => watch.stop())
    const { base, healthy, service } = await server()
    const bodies = [
      '',
      '{',
      '{"kernel":"crc32c","source":{"inline":"YWJj"}',
      '\u0000\u0001\u0002',
      '['.repeat(200_000),
      '{"a":'.repeat(50_000),
      JSON.stringify({ ...job, __proto__: { polluted: true } }).replace('"kernel"', '"__proto__":{"x":1},"kernel"'),
      JSON.stringify({ ...job, offset: 1e308 }),
      JSON.stringify({ ...job, source: { inline: 'YWJj', url: 'http://127.0.0.1/' } }),
      JSON.stringify({ ...job, requirements: { memoryMb: -1 } }),
      JSON.stringify('a string'),
      '1e999999',
    ]
    for (const body of bodies) {
      const res = await fetch(`${base}/api/jobs`, { method: 'POST', headers: json, body })
      expect(res.status, body.slice(0, 60)).toBe(400)
      expect(res.headers.get('content-type')).toBe('application/problem+json')
      const doc = (await res.json()) as { status: number; detail: string }
      expect(doc.status).toBe(400)
      expect(doc.detail.length).toBeLessThan(2000)
    }
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined()
    expect(service.list(10).jobs).toHaveLength(0)
    expect(await healthy()).toBe(true)
    expect(watch.errors).toEqual([])
  })

  it('thousands of event streams: within the per-client and total bounds, the rest 503; all freed on close', async () => {
    const { base, hub, healthy } = await server({ sse: { maxStreams: 120, maxPerClient: 100 } })
    const sockets: ClientRequest[] = []
    cleanups.push(() => {
      for (const s of sockets) s.destroy()
    })
    const open = (path: string, localAddress: string) =>
      new Promise<number>((resolve) => {
        const req = request(new URL(path, base), { agent: false, localAddress }, (res) => {
          resolve(res.statusCode ?? 0)
          if (res.statusCode !== 200) res.resume()
        })
        req.on('error', () => resolve(0))
        req.end()
        sockets.push(req)
      })
    const statuses: number[] = []
    for (let i = 0; i < 2000; i += 100) {
      const batch = Array.from({ length: 100 }, (_, k) => open('/api/events', (i + k) % 2 ? '127.0.0.1' : '127.0.0.2'))
      statuses.push(...(await Promise.all(batch)))
    }
    const ok = statuses.filter((s) => s === 200).length
    expect(ok).toBe(120)
    expect(statuses.filter((s) => s === 503)).toHaveLength(2000 - 120)
    expect(hub.size).toBe(120)
    expect(await healthy()).toBe(true)
    for (const s of sockets.splice(0)) s.destroy()
    await waitFor('every stream freed', () => hub.size === 0)
    expect(await open('/api/events', '127.0.0.1')).toBe(200)
  })

  it('a reader that never reads is dropped, not buffered for; others are unaffected', async () => {
    const { base, hub, made, healthy } = await server({ sse: { maxBacklogBytes: 64 << 10 } })
    const created = await fetch(`${base}/api/jobs`, { method: 'POST', headers: json, body: JSON.stringify(job) })
    const { id } = (await created.json()) as { id: string }
    await waitFor('the job runs', () => made.length === 1)
    // the stalled reader: its socket is paused as soon as the answer starts
    const stalled = request(new URL(`/api/jobs/${id}/events`, base), { agent: false }, (res) => res.pause())
    stalled.end()
    cleanups.push(() => stalled.destroy())
    await waitFor('the stream is open', () => hub.size === 1)
    // pieces far beyond the backlog and the kernel's socket buffers
    for (let i = 0; i < 200_000 && hub.dropped === 0; i++) {
      made[0].piece(i)
      if (i % 2000 === 0) await new Promise((r) => setImmediate(r))
    }
    expect(hub.dropped).toBe(1)
    expect(hub.size).toBe(0)
    expect(await healthy()).toBe(true)
  })

  it('thousands of Idempotency-Keys and jobs stay within the key and history budgets', async () => {
    const { base, service, healthy } = await server({
      jobs: { maxIdempotencyKeys: 300, maxHistory: 200, maxQueued: 10_000 },
      autoFinish: true,
    })
    for (let i = 0; i < 3000; i += 50) {
      const batch = Array.from({ length: 50 }, (_, k) =>
        fetch(`${base}/api/jobs`, {
          method: 'POST',
          headers: { ...json, 'idempotency-key': `k-${i + k}-${'x'.repeat(150)}` },
          body: JSON.stringify(job),
        }).then((r) => r.status),
      )
      for (const s of await Promise.all(batch)) expect(s).toBe(201)
    }
    await waitFor('every job ends', () => service.countByState().running === 0)
    expect(service.idempotencyKeys).toBeLessThanOrEqual(300)
    const held = Object.values(service.countByState()).reduce((a, b) => a + b, 0)
    expect(held).toBeLessThanOrEqual(200)
    // a key that is still remembered gives its job; a forgotten one makes a new job (as after the TTL)
    const again = await fetch(`${base}/api/jobs`, {
      method: 'POST',
      headers: { ...json, 'idempotency-key': `k-2999-${'x'.repeat(150)}` },
      body: JSON.stringify(job),
    })
    expect(again.status).toBe(200)
    expect(await healthy()).toBe(true)
  })

  it('token guesses and junk Authorization headers are all 401; nothing is made', async () => {
    const { base, service } = await server()
    const guesses = [
      '',
      'Bearer',
      `Bearer ${TOKEN.slice(1)}`,
      `Bearer ${TOKEN}x`,
      `Basic ${TOKEN}`,
      `Bearer ${'z'.repeat(8000)}`,
    ]
    for (let i = 0; i < 500; i++) guesses.push(`Bearer ${Math.random().toString(36).repeat(4)}`)
    for (const authorization of guesses) {
      const res = await fetch(`${base}/api/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization },
        body: JSON.stringify(job),
      })
      expect(res.status).toBe(401)
      await res.body?.cancel()
    }
    expect(service.list(10).jobs).toHaveLength(0)
  })
})
