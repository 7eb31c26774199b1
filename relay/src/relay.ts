import type { Server } from 'node:http'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { createAdaptorServer, type HttpBindings } from '@hono/node-server'
import { type CircuitRelayService, circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { type Identify, identify } from '@libp2p/identify'
import type { Connection, PeerId, PrivateKey } from '@libp2p/interface'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Hono } from 'hono'
import { createLibp2p, type Libp2p } from 'libp2p'
import { REGISTRY_PROTOCOL } from 'peercompute'
import { Counter, Gauge, Registry } from 'prom-client'
import { newApiToken } from './api-token.js'
import type { DashboardStreamLimits } from './dashboard-stream.js'
import { createRelayHttpApi, type RelayHttpApi } from './http-api.js'
import { ipOf } from './ip.js'
import { RegistryService } from './registry-service.js'

/** Every limit of the relay, explicit and bounded. */
export interface RelayLimits {
  /** Circuit relay reservations held at once. */
  maxReservations: number
  /** Reservations held by peers connected from one IP address. */
  maxReservationsPerIp: number
  /** How long a reservation lasts before the peer must renew it, ms. */
  reservationTtlMs: number
  /** Longest life of one relayed connection, ms. */
  relayedDurationMs: number
  /** Most bytes one relayed connection may carry (each way). */
  relayedDataBytes: bigint
  /** Connections in total. */
  maxConnections: number
  /** Connections from one IP address. */
  maxConnectionsPerIp: number
  /** New connections per second from one IP address (libp2p's default is 5). */
  connectionsPerSecondPerIp: number
  /** Connections being set up at once (libp2p's default is 10). */
  maxPendingConnections: number
  /** Registered peers. */
  maxPeers: number
  /** A peer silent this long is dropped from the registry, ms. */
  expiryMs: number
  /** Largest accounted cost of one registry record, bytes (see README: the relay's memory bound). */
  maxRecordBytes: number
  /** Accounted cost of all registry records together, bytes. */
  maxRegistryBytes: number
  /** Unsent bytes one registry subscriber may have before it is dropped. */
  maxSubscriberBacklogBytes: number
  /** Unsent bytes all registry subscribers together may have. */
  maxTotalBacklogBytes: number
  /** An IP's registry message budget is this many peers' (peer ids are free, IPs less so). */
  registryPeersPerIp: number
}

/** Defaults: sized for one relay serving about a thousand peers. */
export const DEFAULT_LIMITS: RelayLimits = {
  maxReservations: 2048,
  maxReservationsPerIp: 64,
  reservationTtlMs: 2 * 60 * 60 * 1000,
  relayedDurationMs: 24 * 60 * 60 * 1000,
  relayedDataBytes: 16n << 30n,
  maxConnections: 4096,
  maxConnectionsPerIp: 256,
  connectionsPerSecondPerIp: 50,
  maxPendingConnections: 256,
  maxPeers: 10_000,
  expiryMs: 15_000,
  maxRecordBytes: 64 << 10,
  maxRegistryBytes: 64 << 20,
  maxSubscriberBacklogBytes: 1 << 20,
  maxTotalBacklogBytes: 128 << 20,
  registryPeersPerIp: 64,
}

/** Options of a relay. */
export interface RelayInit {
  /** The relay's identity (see loadOrCreateIdentity). */
  privateKey: PrivateKey
  host?: string
  /** WebSocket port for browsers (0: any free port). */
  wsPort?: number
  /** TCP port for Node peers (0: any free port). */
  tcpPort?: number
  /** HTTP API port (0: any free port). */
  httpPort?: number
  limits?: Partial<RelayLimits>
  /** Bearer token of /api/peers and /api/mesh (default: a new random one; see loadOrCreateApiToken). */
  token?: string
  /** Open /api/peers and /api/mesh to anyone (default false). */
  publicApi?: boolean
  /** The built dashboard served at `/` (default: @peercompute/dashboard's build; null: none). */
  dashboardDir?: string | null
  /** Limits of `/api/dashboard/stream` (default 64 streams, 8 per IP, a snapshot a second). */
  dashboardStream?: Partial<DashboardStreamLimits>
  /** Adds HTTP routes after the relay's own (how `peercompute serve` adds its job API). */
  extendHttp?: (app: Hono<{ Bindings: HttpBindings }>) => void
  log?: (line: string) => void
}

/** A running relay. */
export interface Relay {
  readonly node: Libp2p<{ identify: Identify; relay: CircuitRelayService }>
  readonly registry: RegistryService
  readonly peerId: string
  readonly multiaddrs: Multiaddr[]
  /** Base URL of the HTTP API. */
  readonly httpUrl: string
  /** The HTTP API's bearer token (`Authorization: Bearer <token>` on /api/peers and /api/mesh). */
  readonly token: string
  /** True if /api/peers and /api/mesh are open without the token. */
  readonly publicApi: boolean
  /** The HTTP API (its hono app and its open dashboard streams). */
  readonly http: RelayHttpApi
  stop(): Promise<void>
}

/** Starts a relay: libp2p with circuit relay v2, the registry, and the HTTP API. */
export async function startRelay(init: RelayInit): Promise<Relay> {
  const limits = { ...DEFAULT_LIMITS, ...init.limits }
  const host = init.host ?? '127.0.0.1'
  const log = init.log ?? (() => {})
  const metrics = new Registry()
  const perIp = new Map<string, number>()
  const token = init.token ?? newApiToken()
  const publicApi = init.publicApi ?? false
  // reservations held from one IP: peer ids are free, so the store's own per-peer limit bounds nothing
  const reservationsFrom = (ip: string): number => {
    let n = 0
    for (const r of node.services.relay.reservations.values()) if (ipOf(r.addr) === ip) n++
    return n
  }

  const node = await createLibp2p({
    privateKey: init.privateKey,
    addresses: { listen: [`/ip4/${host}/tcp/${init.tcpPort ?? 0}`, `/ip4/${host}/tcp/${init.wsPort ?? 0}/ws`] },
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    metrics: prometheusMetrics({ registry: metrics, collectDefaultMetrics: false }),
    connectionManager: {
      maxConnections: limits.maxConnections,
      inboundConnectionThreshold: limits.connectionsPerSecondPerIp,
      maxIncomingPendingConnections: limits.maxPendingConnections,
    },
    connectionGater: {
      // loopback and private addresses are what a relay on a LAN or in a test sees
      denyDialMultiaddr: async () => false,
      denyInboundConnection: async (maConn) => (perIp.get(ipOf(maConn.remoteAddr)) ?? 0) >= limits.maxConnectionsPerIp,
      denyInboundRelayReservation: (peer: PeerId): boolean => {
        if (node.services.relay.reservations.has(peer)) return false // a renewal
        return node
          .getConnections(peer)
          .some((c: Connection) => reservationsFrom(ipOf(c.remoteAddr)) >= limits.maxReservationsPerIp)
      },
    },
    services: {
      identify: identify(),
      relay: circuitRelayServer({
        reservations: {
          maxReservations: limits.maxReservations,
          reservationTtl: limits.reservationTtlMs,
          applyDefaultLimit: true,
          defaultDurationLimit: limits.relayedDurationMs,
          defaultDataLimit: limits.relayedDataBytes,
        },
      }),
    },
  })

  const registry = new RegistryService({
    expiryMs: limits.expiryMs,
    maxPeers: limits.maxPeers,
    maxSessions: limits.maxConnections,
    maxRecordBytes: limits.maxRecordBytes,
    maxRecordsBytes: limits.maxRegistryBytes,
    maxBacklogBytes: limits.maxSubscriberBacklogBytes,
    maxTotalBacklogBytes: limits.maxTotalBacklogBytes,
    rates: { peersPerIp: limits.registryPeersPerIp },
    log,
  })
  registry.start()
  await node.handle(REGISTRY_PROTOCOL, registry.handle, { maxInboundStreams: 2, maxOutboundStreams: 1 })

  const gauge = (name: string, help: string, collect: () => number) =>
    new Gauge({
      name,
      help,
      registers: [metrics],
      collect() {
        this.set(collect())
      },
    })
  gauge('peercompute_relay_connections', 'Open connections', () => node.getConnections().length)
  gauge(
    'peercompute_relay_reservations',
    'Circuit relay reservations held',
    () => node.services.relay.reservations.size,
  )
  gauge('peercompute_registry_peers', 'Peers in the registry', () => registry.peers.size)
  gauge('peercompute_registry_memory_bytes', 'Memory the registry holds, as it accounts it', () =>
    registry.memoryUsedBytes(),
  )
  gauge('peercompute_registry_memory_bound_bytes', "The registry's memory bound, from its limits", () =>
    registry.memoryBoundBytes(),
  )
  gauge(
    'peercompute_registry_cut_off',
    'Registry streams or connections cut for floods or backlog since start',
    () => registry.cutOff,
  )
  gauge('peercompute_relay_dashboard_streams', 'Dashboard event streams open', () => api.dashboardStreams)
  gauge(
    'peercompute_relay_dashboard_streams_cut_off',
    'Dashboard event streams cut off since start because the client did not read',
    () => api.dashboardStreamsCutOff,
  )
  const announcements = new Counter({
    name: 'peercompute_registry_announcements_total',
    help: 'Announcements accepted (rate: announcements/s)',
    registers: [metrics],
    collect() {
      this.reset()
      this.inc(registry.announcements)
    },
  })
  void announcements

  const onOpen = (evt: CustomEvent<Connection>) => {
    const ip = ipOf(evt.detail.remoteAddr)
    perIp.set(ip, (perIp.get(ip) ?? 0) + 1)
  }
  const onClose = (evt: CustomEvent<Connection>) => {
    const ip = ipOf(evt.detail.remoteAddr)
    const n = (perIp.get(ip) ?? 1) - 1
    if (n <= 0) perIp.delete(ip)
    else perIp.set(ip, n)
    // the registry drops a peer once its last connection to us is gone, and so does its reservation
    // (nothing can be relayed to a peer without a connection; the expiry fires now, not in hours)
    if (node.getConnections(evt.detail.remotePeer).length === 0) {
      registry.connectionClosed(evt.detail.remotePeer)
      node.services.relay.reservations.get(evt.detail.remotePeer)?.signal.reset(0)
    }
  }
  node.addEventListener('connection:open', onOpen)
  node.addEventListener('connection:close', onClose)

  const startedAt = Date.now()
  const api = createRelayHttpApi({
    node,
    registry,
    metrics,
    startedAt,
    token,
    publicApi,
    dashboardDir: init.dashboardDir,
    dashboardStream: init.dashboardStream,
    extend: init.extendHttp,
  })
  const http = createAdaptorServer({ fetch: api.app.fetch }) as Server
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject)
    http.listen(init.httpPort ?? 0, host, () => resolve())
  })
  const httpPort = (http.address() as { port: number }).port
  log(`relay started: ${node.peerId} ${node.getMultiaddrs().join(' ')} http://${host}:${httpPort}`)

  return {
    node,
    registry,
    peerId: node.peerId.toString(),
    get multiaddrs() {
      return node.getMultiaddrs()
    },
    httpUrl: `http://${host}:${httpPort}`,
    token,
    publicApi,
    http: api,
    async stop() {
      node.removeEventListener('connection:open', onOpen)
      node.removeEventListener('connection:close', onClose)
      registry.stop()
      api.stop()
      http.closeAllConnections()
      await new Promise<void>((r) => http.close(() => r()))
      await node.stop()
      log(`relay stopped: ${node.peerId}`)
    },
  }
}
