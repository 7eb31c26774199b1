import { createHash, timingSafeEqual } from 'node:crypto'
import type { HttpBindings } from '@hono/node-server'
import { getConnInfo } from '@hono/node-server/conninfo'
import { serveStatic } from '@hono/node-server/serve-static'
import { type Context, Hono } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { proxy } from 'hono/proxy'
import * as v from 'valibot'
import { IdempotencyConflictError, InvalidOptionError, QueueFullError, UrlNotAllowedError } from '../../core/errors.js'
import { IdempotencyKeys } from './idempotency.js'
import { bodyHash, isFinished, type JobService } from './job-service.js'
import { jobView } from './job-shapes.js'
import { openApiDocument } from './openapi.js'
import { issuesDetail, problem } from './problem.js'
import { JobRequestSchema, ListQuerySchema, MAX_INLINE_BYTES } from './schemas.js'
import type { SseHub, SseStream } from './sse.js'

/** Largest request body: a 1 MiB inline source in base64, and room for the other fields. */
export const MAX_BODY_BYTES = Math.ceil(MAX_INLINE_BYTES / 3) * 4 + (16 << 10)

/** A job's progress goes to `/api/events` at most this often, ms. */
export const JOB_EVENT_INTERVAL_MS = 250

/** Routes the embedded relay serves (proxied to its own HTTP port when its app cannot be mounted). */
export const RELAY_ROUTES = ['/healthz', '/api/peers', '/api/capacity', '/api/mesh', '/api/dashboard/stream']

/** What the HTTP app serves. */
export interface HttpAppInit {
  service: JobService
  hub: SseHub
  /** The bearer token POST and DELETE need (the relay's). */
  token: string
  /** The Prometheus text of `/metrics` and its content type. */
  metrics: () => Promise<{ text: string; contentType: string }>
  /**
   * The relay's own HTTP API as a hono app (a relay that exposes `http.app`): mounted after the
   * job API's routes, it serves its routes and the dashboard on this port.
   */
  relayApp?: Hono<{ Bindings: HttpBindings }>
  /** Else the relay's HTTP API by URL: RELAY_ROUTES are proxied to it. */
  relayHttpUrl?: string
  /** The dashboard's built files, served at `/`. */
  dashboardDir?: string
  version: string
}

/** True if `c` carries `Authorization: Bearer <token>`; compared in constant time. */
function hasToken(c: Context, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')
  if (!m) return false
  const digest = (s: string) => createHash('sha256').update(s).digest()
  return timingSafeEqual(digest(m[1]), digest(token))
}

const unauthorized = () =>
  problem(401, 'send "Authorization: Bearer <token>" (the relay token, from the token file)', {
    'www-authenticate': 'Bearer realm="peercompute"',
  })

/** The client's address, for per-client stream limits. */
function clientOf(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

/** The hono app of `peercompute serve`: the job API, its event streams, metrics, the relay's routes and the dashboard. */
export function createHttpApp(init: HttpAppInit): Hono {
  const { service, hub, token } = init
  const app = new Hono()
  const openapi = JSON.stringify(openApiDocument(init.version))

  app.onError((err) => problem(500, `internal error: ${err.name}`))

  app.post(
    '/api/jobs',
    async (c, next) => (hasToken(c, token) ? next() : unauthorized()),
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: () => problem(413, `the body is over ${MAX_BODY_BYTES} bytes (inline data: 1 MiB at most)`),
    }),
    async (c) => {
      if (!/^application\/(.+\+)?json\b/i.test(c.req.header('content-type') ?? ''))
        return problem(415, 'send the job as Content-Type: application/json')
      const key = c.req.header('idempotency-key')
      if (key !== undefined && !IdempotencyKeys.valid(key))
        return problem(400, 'Idempotency-Key must be 1-200 printable ASCII characters')
      const text = await c.req.text()
      let body: unknown
      try {
        body = JSON.parse(text)
      } catch (err) {
        return problem(400, `the body is not JSON: ${(err as Error).message.slice(0, 200)}`)
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        return problem(400, 'the body must be a JSON object (a job request)')
      const parsed = v.safeParse(JobRequestSchema, body)
      if (!parsed.success) return problem(400, issuesDetail(parsed.issues))
      try {
        const { job, created } = service.create(parsed.output, { idempotencyKey: key, bodyHash: bodyHash(text) })
        c.header('location', `/api/jobs/${job.id}`)
        return c.json(jobView(job), created ? 201 : 200)
      } catch (err) {
        if (err instanceof IdempotencyConflictError) return problem(409, err.message)
        if (err instanceof QueueFullError) return problem(429, err.message, { 'retry-after': '5' })
        if (err instanceof InvalidOptionError || err instanceof UrlNotAllowedError) return problem(400, err.message)
        throw err
      }
    },
  )

  app.get('/api/jobs', (c) => {
    const q = v.safeParse(ListQuerySchema, { limit: c.req.query('limit'), cursor: c.req.query('cursor') })
    if (!q.success) return problem(400, `limit is 1-100, cursor a "next" value: ${issuesDetail(q.issues)}`)
    const page = service.list(q.output.limit, q.output.cursor)
    return c.json({ jobs: page.jobs.map((j) => jobView(j, false)), next: page.next })
  })

  app.get('/api/jobs/:id', (c) => {
    const job = service.get(c.req.param('id'))
    return job ? c.json(jobView(job)) : problem(404, `no job ${c.req.param('id').slice(0, 100)}`)
  })

  app.delete('/api/jobs/:id', (c) => {
    if (!hasToken(c, token)) return unauthorized()
    const job = service.cancel(c.req.param('id'))
    return job ? c.json(jobView(job)) : problem(404, `no job ${c.req.param('id').slice(0, 100)}`)
  })

  app.get('/api/jobs/:id/events', (c) => {
    const id = c.req.param('id')
    const job = service.get(id)
    if (!job) return problem(404, `no job ${id.slice(0, 100)}`)
    const res = hub.open(clientOf(c), (s) => {
      s.send('progress', job.progress)
      if (isFinished(job.state)) {
        s.send('done', jobView(job))
        s.close()
        return () => {}
      }
      return service.subscribe((e) => {
        if (e.job.id !== id) return
        if (e.type === 'piece') s.send('piece', e.piece)
        else if (e.type === 'progress') s.send('progress', e.job.progress)
        else if (e.type === 'done') {
          s.send('done', jobView(e.job))
          s.close()
        }
      })
    })
    return res ?? problem(503, 'too many event streams open; try again later', { 'retry-after': '5' })
  })

  app.get('/api/events', (c) => {
    const res = hub.open(clientOf(c), (s) => allJobsStream(service, s))
    return res ?? problem(503, 'too many event streams open; try again later', { 'retry-after': '5' })
  })

  app.get('/api/openapi.json', (c) => c.body(openapi, 200, { 'content-type': 'application/json' }))

  app.get('/metrics', async (c) => {
    const m = await init.metrics()
    return c.body(m.text, 200, { 'content-type': m.contentType })
  })

  app.notFound((c) => problem(404, `no route ${c.req.method} ${c.req.path.slice(0, 200)}`))
  if (init.relayApp) {
    // the relay's routes and its dashboard files; the routes above come first
    app.route('/', init.relayApp)
    return app
  }
  const relayUrl = init.relayHttpUrl
  if (relayUrl) {
    for (const path of RELAY_ROUTES)
      app.get(path, (c) =>
        proxy(`${relayUrl}${path}${new URL(c.req.url).search}`, {
          headers: { authorization: c.req.header('authorization'), accept: c.req.header('accept') },
          signal: c.req.raw.signal,
        }),
      )
  }

  app.all('/api/*', (c) => problem(404, `no route ${c.req.method} ${c.req.path.slice(0, 200)}`))
  if (init.dashboardDir) app.use('/*', serveStatic({ root: init.dashboardDir }))
  return app
}

/** `/api/events`: every job's changes (progress at most every JOB_EVENT_INTERVAL_MS per job) and `stats` each second. */
function allJobsStream(service: JobService, s: SseStream): () => void {
  for (const { jobs } of [service.list(100)]) for (const j of jobs.reverse()) s.send('job', jobView(j, false))
  s.send('stats', service.stats())
  const dirty = new Set<string>()
  const unsubscribe = service.subscribe((e) => {
    if (e.type === 'created' || e.type === 'done') {
      dirty.delete(e.job.id)
      s.send('job', jobView(e.job, false))
    } else dirty.add(e.job.id)
  })
  const flush = setInterval(() => {
    for (const id of dirty) {
      const job = service.get(id)
      if (job && !s.send('job', jobView(job, false))) return
    }
    dirty.clear()
  }, JOB_EVENT_INTERVAL_MS)
  const stats = setInterval(() => s.send('stats', service.stats()), 1000)
  return () => {
    unsubscribe()
    clearInterval(flush)
    clearInterval(stats)
  }
}
