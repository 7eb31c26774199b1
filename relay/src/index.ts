/**
 * @packageDocumentation
 *
 * PeerCompute's standalone relay: circuit relay v2 with explicit limits, the
 * peer registry (`/peercompute/registry/1.0.0`), an HTTP API and Prometheus
 * metrics. Run it with `npx peercompute-relay` or embed it.
 *
 * @example
 * ```ts
 * import { loadOrCreateIdentity, startRelay } from '@peercompute/relay'
 *
 * const { key } = await loadOrCreateIdentity('./relay.key')
 * const relay = await startRelay({ privateKey: key, wsPort: 9090, httpPort: 9091 })
 * console.log(relay.multiaddrs.map(String), relay.httpUrl)
 * await relay.stop()
 * ```
 */
export { bearerMatches, hasBearer, loadOrCreateApiToken, newApiToken, tokenMatches } from './api-token.js'
export { parseRelayConfig, RELAY_USAGE, type RelayConfig } from './config.js'
export {
  type CapacityTotals,
  capacityOf,
  type DashboardLink,
  type DashboardPeer,
  type DashboardSnapshot,
  dashboardSnapshot,
} from './dashboard-snapshot.js'
export {
  type DashboardStreamLimits,
  DashboardStreams,
  DEFAULT_DASHBOARD_STREAM_LIMITS,
} from './dashboard-stream.js'
export { createRelayHttpApi, RELAY_ROUTES, type RelayHttpApi, type RelayHttpInit } from './http-api.js'
export { loadOrCreateIdentity } from './identity.js'
export { runRelay } from './main.js'
export {
  DEFAULT_PEER_RATES,
  DEFAULT_STRIKES,
  KeyedBuckets,
  type LimitedKind,
  type Rate,
  RegistryLimiter,
  type RegistryLimiterInit,
  type Verdict,
} from './rate-limit.js'
export { type MemoryBound, memoryBound } from './registry-memory.js'
export { type RegistryEntry, type RegistryInit, RegistryService } from './registry-service.js'
export { DEFAULT_LIMITS, type Relay, type RelayInit, type RelayLimits, startRelay } from './relay.js'
