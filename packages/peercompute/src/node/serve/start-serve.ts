import { existsSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { type ServerType, serve } from '@hono/node-server'
import type { PrivateKey } from '@libp2p/interface'
import { checkUrl, resolveUrlPolicy } from '../../core/compute/url-policy.js'
import { DataSourceError } from '../../core/errors.js'
import type { NodeKernel } from '../../core/kernel/node-kernel.js'
import { LOOPBACK } from '../cli/mesh-commands.js'
import { createNode } from '../create-node.js'
import { createHttpApp, type HttpAppInit } from './http-app.js'
import { JobMetrics } from './job-metrics.js'
import { JobService, type JobServiceInit } from './job-service.js'
import { SseHub, type SseLimits } from './sse.js'

/** What `peercompute serve` needs of the relay package (loaded by name at run time: it depends on this one). */
interface RelayModule {
  startRelay(init: {
    privateKey: PrivateKey
    host: string
    wsPort: number
    tcpPort: number
    httpPort: number
    token: string
    log?: (line: string) => void
  }): Promise<{
    peerId: string
    multiaddrs: Array<{ toString(): string }>
    httpUrl: string
    token: string
    stop(): Promise<void>
    /** A relay whose HTTP API is a hono app exposes it here (then it is mounted on serve's port). */
    http?: { app?: unknown }
  }>
  loadOrCreateIdentity(path: string): Promise<{ key: PrivateKey; created: boolean }>
  loadOrCreateApiToken(path: string): { token: string; created: boolean }
}

/** Options of `startServe`. */
export interface ServeInit {
  /** Address every port listens on (default 127.0.0.1). */
  host?: string
  /** The job API's HTTP port (default 8080; 0: any free port). */
  port?: number
  /** The embedded relay's ports: WebSocket (browsers), TCP (Node peers), its own HTTP API (default 0: any free port). */
  relayWsPort?: number
  relayTcpPort?: number
  relayHttpPort?: number
  /** Where the relay's identity and token live (default `.peercompute`). */
  dataDir?: string
  /** The token file (default `<dataDir>/relay.token`; made with mode 0600 on first start). */
  tokenFile?: string
  /** A mesh on one machine: loopback WebRTC, private URLs allowed (see `--loopback`). */
  loopback?: boolean
  /** Worker threads of the submitting node (default 1). */
  maxWorkers?: number
  /** The submitting node runs pieces too (default true). */
  includeLocal?: boolean
  /** Job limits: see JobServiceInit. */
  jobs?: Omit<JobServiceInit, 'submit' | 'contentLength' | 'metrics'>
  sse?: Partial<SseLimits>
  log?: (line: string) => void
}

/** A running `peercompute serve`. */
export interface Served {
  /** Base URL of the job API. */
  readonly url: string
  /** The bearer token of POST and DELETE (the relay's). */
  readonly token: string
  readonly tokenCreated: boolean
  /** The relay's multiaddrs (TCP for Node peers, WebSocket for browsers). */
  readonly relayAddrs: string[]
  /** The relay's own HTTP API (also proxied on `url`). */
  readonly relayHttpUrl: string
  readonly node: NodeKernel
  readonly service: JobService
  /** Whether the dashboard's built files were found and are served at `/`. */
  readonly dashboard: boolean
  /** True when the relay's hono app is mounted on `url`; false when its routes are proxied to `relayHttpUrl`. */
  readonly relayMounted: boolean
  stop(): Promise<void>
}

/** The built dashboard's folder, if @peercompute/dashboard is installed and built. */
async function findDashboard(): Promise<string | undefined> {
  try {
    const name = '@peercompute/dashboard'
    const { dashboardDir } = (await import(name)) as { dashboardDir?: string }
    return dashboardDir && existsSync(join(dashboardDir, 'index.html')) ? dashboardDir : undefined
  } catch {
    return undefined
  }
}

/** Starts the relay, a submitting node on it, and the HTTP job API; `stop()` releases all of it. */
export async function startServe(init: ServeInit = {}): Promise<Served> {
  const host = init.host ?? '127.0.0.1'
  const log = init.log ?? (() => {})
  const dataDir = init.dataDir ?? '.peercompute'
  const cleanup: Array<() => Promise<unknown> | unknown> = []
  const stopAll = async () => {
    for (const c of cleanup.splice(0).reverse()) await Promise.resolve(c()).catch(() => {})
  }
  try {
    const name = '@peercompute/relay'
    const relayMod = (await import(name)) as RelayModule
    const { key } = await relayMod.loadOrCreateIdentity(join(dataDir, 'relay.key'))
    const api = relayMod.loadOrCreateApiToken(init.tokenFile ?? join(dataDir, 'relay.token'))
    const relay = await relayMod.startRelay({
      privateKey: key,
      host,
      wsPort: init.relayWsPort ?? 0,
      tcpPort: init.relayTcpPort ?? 0,
      httpPort: init.relayHttpPort ?? 0,
      token: api.token,
      log,
    })
    cleanup.push(() => relay.stop())
    const relayAddrs = relay.multiaddrs.map(String)
    const tcpAddr = relayAddrs.find((a) => !a.includes('/ws')) as string

    const node = await createNode({
      ...(init.loopback ? LOOPBACK : {}),
      relays: [tcpAddr],
      enableWebGPU: false,
      maxWorkers: init.maxWorkers ?? 1,
    })
    cleanup.push(() => node.stop())
    await node.start()

    const urlPolicy = resolveUrlPolicy(init.loopback ? { allowPrivate: true } : undefined)
    let service: JobService | undefined
    const metrics = new JobMetrics(() => service?.countByState() ?? {})
    const includeLocal = init.includeLocal ?? true
    service = new JobService({
      ...init.jobs,
      metrics,
      submit: (spec) => node.compute.submit({ ...spec, includeLocal }),
      checkUrl: (url) => checkUrl(url, urlPolicy),
      contentLength: (url, signal) => contentLength(checkUrl(url, urlPolicy).href, signal),
    })
    const jobs = service
    cleanup.push(() => jobs.stop())
    const hub = new SseHub(init.sse)
    cleanup.push(() => hub.stop())

    const dashboardDir = await findDashboard()
    const app = createHttpApp({
      service,
      hub,
      token: api.token,
      relayApp: relay.http?.app as HttpAppInit['relayApp'],
      relayHttpUrl: relay.httpUrl,
      dashboardDir,
      version: '0.1.0',
      metrics: async () => {
        // the job metrics, then the relay's own (its registry: connections, reservations, libp2p)
        const own = await metrics.registry.metrics()
        const res = await fetch(`${relay.httpUrl}/metrics`, { signal: AbortSignal.timeout(5000) }).catch(() => null)
        const theirs = res?.ok ? await res.text() : ''
        return { text: `${own}\n${theirs}`, contentType: metrics.registry.contentType }
      },
    })
    const server = await new Promise<ServerType>((resolve, reject) => {
      const s = serve({ fetch: app.fetch, hostname: host, port: init.port ?? 8080 }, () => resolve(s))
      s.once('error', reject)
    })
    cleanup.push(
      () =>
        new Promise<void>((resolve) => {
          ;(server as { closeAllConnections?: () => void }).closeAllConnections?.()
          server.close(() => resolve())
        }),
    )
    const port = (server.address() as AddressInfo).port
    const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
    log(`serve: job API ${url}/api/jobs, relay ${relay.peerId}${dashboardDir ? ', dashboard at /' : ''}`)
    return {
      url,
      token: api.token,
      tokenCreated: api.created,
      relayAddrs,
      relayHttpUrl: relay.httpUrl,
      node,
      service,
      dashboard: dashboardDir !== undefined,
      relayMounted: relay.http?.app !== undefined,
      stop: stopAll,
    }
  } catch (err) {
    await stopAll()
    throw err
  }
}

/** The size of `url`'s resource, from a HEAD request (10 s at most). */
async function contentLength(url: string, signal: AbortSignal): Promise<number> {
  const res = await fetch(url, {
    method: 'HEAD',
    redirect: 'error',
    signal: AbortSignal.any([signal, AbortSignal.timeout(10_000)]),
  })
  const n = Number(res.headers.get('content-length'))
  if (!res.ok || !Number.isSafeInteger(n) || n < 0)
    throw new DataSourceError(`${url}: no Content-Length (HTTP ${res.status}); give "length"`)
  return n
}
