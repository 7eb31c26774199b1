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
export { parseRelayConfig, RELAY_USAGE, type RelayConfig } from './config.js'
export { loadOrCreateIdentity } from './identity.js'
export { runRelay } from './main.js'
export { type RegistryEntry, type RegistryInit, RegistryService } from './registry-service.js'
export { DEFAULT_LIMITS, type Relay, type RelayInit, type RelayLimits, startRelay } from './relay.js'
