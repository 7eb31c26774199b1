import { createServer, type Server } from 'node:http'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import type { Connection, PrivateKey } from '@libp2p/interface'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import type { Multiaddr } from '@multiformats/multiaddr'
import { createLibp2p, type Libp2p } from 'libp2p'
import { REGISTRY_PROTOCOL } from 'peercompute'
import { Counter, Gauge, Registry } from 'prom-client'
import { routeHttp } from './http-api.js'
import { RegistryService } from './registry-service.js'

/** Every limit of the relay, explicit and bounded. */
export interface RelayLimits {
  /** Circuit relay reservations held at once. */
  maxReservations: number
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
}

/** Defaults: sized for one relay serving about a thousand peers. */
export const DEFAULT_LIMITS: RelayLimits = {
  maxReservations: 2048,
  reservationTtlMs: 2 * 60 * 60 * 1000,
  relayedDurationMs: 24 * 60 * 60 * 1000,
  relayedDataBytes: 16n << 30n,
  maxConnections: 4096,
  maxConnectionsPerIp: 256,
  connectionsPerSecondPerIp: 50,
  maxPendingConnections: 256,
  maxPeers: 10_000,
  expiryMs: 15_000,
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
  log?: (line: string) => void
}

/** A running relay. */
export interface Relay {
  readonly node: Libp2p
  readonly registry: RegistryService
  readonly peerId: string
  readonly multiaddrs: Multiaddr[]
  /** Base URL of the HTTP API. */
  readonly httpUrl: string
  stop(): Promise<void>
}

/** Starts a relay: libp2p with circuit relay v2, the registry, and the HTTP API. */
export async function startRelay(init: RelayInit): Promise<Relay> {
  const limits = { ...DEFAULT_LIMITS, ...init.limits }
  const host = init.host ?? '127.0.0.1'
  const log = init.log ?? (() => {})
  const metrics = new Registry()
  const perIp = new Map<string, number>()
  const ipOf = (c: { remoteAddr: Multiaddr }) =>
    c.remoteAddr.getComponents().find((x) => x.name === 'ip4' || x.name === 'ip6')?.value ?? 'unknown'

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
      denyInboundConnection: async (maConn) => (perIp.get(ipOf(maConn)) ?? 0) >= limits.maxConnectionsPerIp,
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

  const registry = new RegistryService({ expiryMs: limits.expiryMs, maxPeers: limits.maxPeers, log })
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
    const ip = ipOf(evt.detail)
    perIp.set(ip, (perIp.get(ip) ?? 0) + 1)
  }
  const onClose = (evt: CustomEvent<Connection>) => {
    const ip = ipOf(evt.detail)
    const n = (perIp.get(ip) ?? 1) - 1
    if (n <= 0) perIp.delete(ip)
    else perIp.set(ip, n)
    // the registry drops a peer once its last connection to us is gone
    if (node.getConnections(evt.detail.remotePeer).length === 0) registry.connectionClosed(evt.detail.remotePeer)
  }
  node.addEventListener('connection:open', onOpen)
  node.addEventListener('connection:close', onClose)

  const startedAt = Date.now()
  const http: Server = createServer((req, res) =>
    routeHttp(req, res, { node, registry, metrics, startedAt }).catch((err) => {
      res.writeHead(500).end(String(err))
    }),
  )
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
    async stop() {
      node.removeEventListener('connection:open', onOpen)
      node.removeEventListener('connection:close', onClose)
      registry.stop()
      http.closeAllConnections()
      await new Promise<void>((r) => http.close(() => r()))
      await node.stop()
      log(`relay stopped: ${node.peerId}`)
    },
  }
}
