import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Libp2p } from 'libp2p'
import type { Registry } from 'prom-client'
import { hasBearer } from './api-token.js'
import type { RegistryService } from './registry-service.js'

interface Ctx {
  node: Libp2p
  registry: RegistryService
  metrics: Registry
  startedAt: number
  /** The bearer token that /api/peers and /api/mesh need. */
  token: string
  /** The operator opened every route (`--public-api`). */
  publicApi: boolean
}

/** Routes that list peers' addresses: they need the token unless the API is public. */
const PRIVATE_ROUTES = new Set(['/api/peers', '/api/mesh'])

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
  res.end(JSON.stringify(body, null, 2))
}

/** The relay's read-only HTTP API. */
export async function routeHttp(req: IncomingMessage, res: ServerResponse, ctx: Ctx): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    json(res, 405, { error: 'only GET: this API has no write endpoints' })
    return
  }
  const path = new URL(req.url ?? '/', 'http://relay').pathname
  if (PRIVATE_ROUTES.has(path) && !ctx.publicApi && !hasBearer(req, ctx.token)) {
    res.setHeader('www-authenticate', 'Bearer realm="peercompute-relay"')
    json(res, 401, {
      error: `${path} lists peer addresses: send "Authorization: Bearer <token>" (the token is in the relay's token file, printed when it was created; --public-api opens it to all)`,
    })
    return
  }
  const peers = [...ctx.registry.peers.values()]
  switch (path) {
    case '/healthz':
      return json(res, 200, {
        ok: true,
        peerId: ctx.node.peerId.toString(),
        uptimeS: Math.round((Date.now() - ctx.startedAt) / 1000),
        peers: peers.length,
        registryMemory: { usedBytes: ctx.registry.memoryUsedBytes(), bound: ctx.registry.memoryBound() },
      })
    case '/api/peers':
      return json(res, 200, {
        peers: peers.map((e) => ({
          ...e.record,
          lastSeen: new Date(e.lastSeen).toISOString(),
          registeredAt: new Date(e.registeredAt).toISOString(),
        })),
      })
    case '/api/capacity': {
      const total = { peers: 0, cores: 0, memoryMb: 0, gpus: 0 }
      const bySubstrate: Record<string, typeof total> = {}
      for (const { record } of peers) {
        const key = record.caps.substrate
        if (!bySubstrate[key]) bySubstrate[key] = { peers: 0, cores: 0, memoryMb: 0, gpus: 0 }
        const s = bySubstrate[key]
        for (const t of [total, s]) {
          t.peers++
          t.cores += record.caps.cores
          t.memoryMb += record.caps.memoryMb
          t.gpus += record.caps.gpu ? 1 : 0
        }
      }
      return json(res, 200, { total, bySubstrate })
    }
    case '/api/mesh':
      return json(res, 200, {
        nodes: peers.map((e) => ({ id: e.record.id, substrate: e.record.caps.substrate })),
        links: peers.flatMap((e) =>
          e.links.map((l) => ({ from: e.record.id, to: l.peer, transport: l.transport, rttMs: l.rttMs })),
        ),
      })
    case '/metrics':
      res.writeHead(200, { 'content-type': ctx.metrics.contentType })
      res.end(await ctx.metrics.metrics())
      return
    default:
      json(res, 404, {
        error: `no route ${path}`,
        routes: ['/healthz', '/api/peers', '/api/capacity', '/api/mesh', '/metrics'],
      })
  }
}
