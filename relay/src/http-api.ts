import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { HttpBindings } from '@hono/node-server'
import { serveStatic } from '@hono/node-server/serve-static'
import { dashboardDir as builtDashboardDir } from '@peercompute/dashboard'
import { type Context, Hono } from 'hono'
import type { Libp2p } from 'libp2p'
import type { Registry } from 'prom-client'
import { bearerMatches, tokenMatches } from './api-token.js'
import { capacityOf, dashboardSnapshot } from './dashboard-snapshot.js'
import { type DashboardStreamLimits, DashboardStreams, DEFAULT_DASHBOARD_STREAM_LIMITS } from './dashboard-stream.js'
import type { RegistryService } from './registry-service.js'

/** What the relay's HTTP API serves from. */
export interface RelayHttpInit {
  node: Libp2p
  registry: RegistryService
  metrics: Registry
  startedAt: number
  /** The bearer token that /api/peers, /api/mesh and the dashboard stream's addresses need. */
  token: string
  /** The operator opened every route (`--public-api`). */
  publicApi: boolean
  /** The built dashboard to serve at `/` (default: @peercompute/dashboard's; null: none). */
  dashboardDir?: string | null
  dashboardStream?: Partial<DashboardStreamLimits>
  /**
   * Adds routes (e.g. `peercompute serve`'s job API) after the relay's own and
   * before the dashboard's files and the 404 answer.
   */
  extend?: (app: Hono<{ Bindings: HttpBindings }>) => void
}

/** The relay's HTTP API as a hono app, and what it holds open. */
export interface RelayHttpApi {
  /** Mount it with @hono/node-server (`createAdaptorServer({ fetch: app.fetch })`) or `app.route()`. */
  readonly app: Hono<{ Bindings: HttpBindings }>
  /** Dashboard streams open now. */
  readonly dashboardStreams: number
  /** Dashboard streams cut off for not reading, since start. */
  readonly dashboardStreamsCutOff: number
  /** Ends the dashboard streams; new ones get 503. */
  stop(): void
}

/** The relay's own routes (other methods get 405). */
export const RELAY_ROUTES = [
  '/healthz',
  '/api/peers',
  '/api/capacity',
  '/api/mesh',
  '/api/dashboard/stream',
  '/metrics',
]

const NO_STORE = { 'cache-control': 'no-store' }
/** The dashboard page loads only its own files and talks only to its own origin. */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
}

/** The client's IP address as the socket has it (IPv4-mapped IPv6 as IPv4). */
function clientIp(c: Context<{ Bindings: HttpBindings }>): string {
  const ip = c.env?.incoming?.socket?.remoteAddress ?? 'unknown'
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip
}

/**
 * Builds the relay's HTTP API: health, peers and mesh (token), capacity,
 * Prometheus metrics, the dashboard's event stream and the dashboard itself.
 */
export function createRelayHttpApi(init: RelayHttpInit): RelayHttpApi {
  const { node, registry, metrics, token, publicApi } = init
  const limits = { ...DEFAULT_DASHBOARD_STREAM_LIMITS, ...init.dashboardStream }
  const app = new Hono<{ Bindings: HttpBindings }>()
  const authorized = (c: Context) => publicApi || bearerMatches(c.req.header('authorization'), token)
  const streams = new DashboardStreams(limits, (withAddrs) =>
    dashboardSnapshot(registry.peers.values(), { withAddrs, maxLinks: limits.maxLinks }),
  )
  const json = (c: Context, status: 200 | 401 | 404 | 405, body: unknown) =>
    c.newResponse(JSON.stringify(body, null, 2), status, { 'content-type': 'application/json', ...NO_STORE })
  const needToken = (c: Context) => {
    c.header('www-authenticate', 'Bearer realm="peercompute-relay"')
    return json(c, 401, {
      error: `${c.req.path} lists peer addresses: send "Authorization: Bearer <token>" (the token is in the relay's token file, printed when it was created; --public-api opens it to all)`,
    })
  }

  app.get('/healthz', (c) =>
    json(c, 200, {
      ok: true,
      peerId: node.peerId.toString(),
      uptimeS: Math.round((Date.now() - init.startedAt) / 1000),
      peers: registry.peers.size,
      registryMemory: { usedBytes: registry.memoryUsedBytes(), bound: registry.memoryBound() },
    }),
  )
  app.get('/api/peers', (c) => {
    if (!authorized(c)) return needToken(c)
    return json(c, 200, {
      peers: [...registry.peers.values()].map((e) => ({
        ...e.record,
        lastSeen: new Date(e.lastSeen).toISOString(),
        registeredAt: new Date(e.registeredAt).toISOString(),
      })),
    })
  })
  app.get('/api/capacity', (c) => json(c, 200, capacityOf(registry.peers.values())))
  app.get('/api/mesh', (c) => {
    if (!authorized(c)) return needToken(c)
    const peers = [...registry.peers.values()]
    return json(c, 200, {
      nodes: peers.map((e) => ({ id: e.record.id, substrate: e.record.caps.substrate })),
      links: peers.flatMap((e) =>
        e.links.map((l) => ({ from: e.record.id, to: l.peer, transport: l.transport, rttMs: l.rttMs })),
      ),
    })
  })
  app.get('/api/dashboard/stream', (c) => {
    // EventSource cannot send headers: the token may come as ?token= (once: a repeated one is no token)
    const q = c.req.queries('token') ?? []
    const withAddrs = authorized(c) || (q.length === 1 && tokenMatches(q[0], token))
    return streams.handle(c, clientIp(c), withAddrs)
  })
  app.get('/metrics', async (c) =>
    c.newResponse(await metrics.metrics(), 200, { 'content-type': metrics.contentType, ...NO_STORE }),
  )
  for (const path of RELAY_ROUTES)
    app.all(path, (c) => json(c, 405, { error: 'only GET: the relay has no write endpoints' }))

  init.extend?.(app)

  app.all('/api/*', (c) => json(c, 404, { error: `no route ${c.req.path}`, routes: RELAY_ROUTES }))
  const dir = init.dashboardDir === undefined ? builtDashboardDir : init.dashboardDir
  if (dir && existsSync(join(dir, 'index.html'))) {
    app.use('/*', async (c, next) => {
      await next()
      if (c.res.status < 400) for (const [k, v] of Object.entries(PAGE_HEADERS)) c.res.headers.set(k, v)
    })
    app.get('/*', serveStatic({ root: dir }))
  } else {
    app.get('/', (c) =>
      c.text(
        'The dashboard is not built here: run `npm run build` (it builds @peercompute/dashboard). The API is under /api/.\n',
        200,
        NO_STORE,
      ),
    )
  }
  app.notFound((c) => json(c, 404, { error: `no route ${c.req.path}`, routes: RELAY_ROUTES }))
  app.onError((_err, c) => c.newResponse(null, 500))

  return {
    app,
    get dashboardStreams() {
      return streams.size
    },
    get dashboardStreamsCutOff() {
      return streams.cutOff
    },
    stop: () => streams.stop(),
  }
}
