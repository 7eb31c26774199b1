import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { DEFAULT_LIMITS, type RelayLimits } from './relay.js'

/** The relay's settings from flags, then `PEERCOMPUTE_RELAY_*` environment variables, then defaults. */
export interface RelayConfig {
  host: string
  wsPort: number
  tcpPort: number
  httpPort: number
  identity: string
  /** Where the HTTP API's bearer token is kept (made on first start, mode 0600). */
  tokenFile: string
  /** /api/peers and /api/mesh open without the token. */
  publicApi: boolean
  limits: RelayLimits
}

/** The token file's default: `relay.token` in the identity file's folder. */
const TOKEN_BESIDE_IDENTITY = '<identity folder>/relay.token'

const FLAGS = {
  host: ['HOST', '127.0.0.1'],
  'ws-port': ['WS_PORT', '9090'],
  'tcp-port': ['TCP_PORT', '9092'],
  'http-port': ['HTTP_PORT', '9091'],
  identity: ['IDENTITY', '.peercompute/relay.key'],
  'token-file': ['TOKEN_FILE', TOKEN_BESIDE_IDENTITY],
  'public-api': ['PUBLIC_API', 'false'],
  'max-reservations': ['MAX_RESERVATIONS', String(DEFAULT_LIMITS.maxReservations)],
  'max-reservations-per-ip': ['MAX_RESERVATIONS_PER_IP', String(DEFAULT_LIMITS.maxReservationsPerIp)],
  'reservation-ttl-s': ['RESERVATION_TTL_S', String(DEFAULT_LIMITS.reservationTtlMs / 1000)],
  'relayed-duration-s': ['RELAYED_DURATION_S', String(DEFAULT_LIMITS.relayedDurationMs / 1000)],
  'relayed-data-mb': ['RELAYED_DATA_MB', String(Number(DEFAULT_LIMITS.relayedDataBytes >> 20n))],
  'max-connections': ['MAX_CONNECTIONS', String(DEFAULT_LIMITS.maxConnections)],
  'max-connections-per-ip': ['MAX_CONNECTIONS_PER_IP', String(DEFAULT_LIMITS.maxConnectionsPerIp)],
  'connections-per-second-per-ip': ['CONNECTIONS_PER_SECOND_PER_IP', String(DEFAULT_LIMITS.connectionsPerSecondPerIp)],
  'max-pending-connections': ['MAX_PENDING_CONNECTIONS', String(DEFAULT_LIMITS.maxPendingConnections)],
  'max-peers': ['MAX_PEERS', String(DEFAULT_LIMITS.maxPeers)],
  'expiry-s': ['EXPIRY_S', String(DEFAULT_LIMITS.expiryMs / 1000)],
  'max-record-kb': ['MAX_RECORD_KB', String(DEFAULT_LIMITS.maxRecordBytes >> 10)],
  'registry-mb': ['REGISTRY_MB', String(DEFAULT_LIMITS.maxRegistryBytes >> 20)],
  'subscriber-backlog-kb': ['SUBSCRIBER_BACKLOG_KB', String(DEFAULT_LIMITS.maxSubscriberBacklogBytes >> 10)],
  'backlog-mb': ['BACKLOG_MB', String(DEFAULT_LIMITS.maxTotalBacklogBytes >> 20)],
  'registry-peers-per-ip': ['REGISTRY_PEERS_PER_IP', String(DEFAULT_LIMITS.registryPeersPerIp)],
} as const

/** Flags that take no value (`--public-api`; the environment variable takes true/false/1/0). */
const BOOLEAN_FLAGS = new Set<keyof typeof FLAGS>(['public-api'])

/** Usage text, generated from the flag table so that it cannot drift. */
export const RELAY_USAGE = `usage: peercompute relay [options]

${Object.entries(FLAGS)
  .map(([flag, [env, def]]) => `  --${flag.padEnd(30)} env PEERCOMPUTE_RELAY_${env.padEnd(30)} default ${def}`)
  .join('\n')}`

/** Parses flags and environment; a bad value is an Error naming the flag. */
export function parseRelayConfig(argv: string[], env: Record<string, string | undefined>): RelayConfig {
  const { values } = parseArgs({
    args: argv,
    options: Object.fromEntries(
      (Object.keys(FLAGS) as Array<keyof typeof FLAGS>).map((f) => [
        f,
        { type: BOOLEAN_FLAGS.has(f) ? ('boolean' as const) : ('string' as const) },
      ]),
    ),
    strict: true,
  })
  const get = (flag: keyof typeof FLAGS): string => {
    const [envName, def] = FLAGS[flag]
    const v = values[flag] as string | boolean | undefined
    return (v === undefined ? undefined : String(v)) ?? env[`PEERCOMPUTE_RELAY_${envName}`] ?? def
  }
  const bool = (flag: keyof typeof FLAGS): boolean => {
    const v = get(flag).toLowerCase()
    if (v === 'true' || v === '1') return true
    if (v === 'false' || v === '0' || v === '') return false
    throw new RangeError(`--${flag} must be true or false, got ${get(flag)}`)
  }
  const n = (flag: keyof typeof FLAGS, min: number, max: number): number => {
    const v = Number(get(flag))
    if (!Number.isInteger(v) || v < min || v > max)
      throw new RangeError(`--${flag} must be an integer in ${min}..${max}, got ${get(flag)}`)
    return v
  }
  return {
    host: get('host'),
    wsPort: n('ws-port', 0, 65535),
    tcpPort: n('tcp-port', 0, 65535),
    httpPort: n('http-port', 0, 65535),
    identity: get('identity'),
    tokenFile:
      get('token-file') === TOKEN_BESIDE_IDENTITY ? join(dirname(get('identity')), 'relay.token') : get('token-file'),
    publicApi: bool('public-api'),
    limits: {
      maxReservations: n('max-reservations', 1, 1e6),
      maxReservationsPerIp: n('max-reservations-per-ip', 1, 1e6),
      reservationTtlMs: n('reservation-ttl-s', 10, 7 * 86400) * 1000,
      relayedDurationMs: n('relayed-duration-s', 10, 30 * 86400) * 1000,
      relayedDataBytes: BigInt(n('relayed-data-mb', 1, 1 << 30)) << 20n,
      maxConnections: n('max-connections', 1, 1e6),
      maxConnectionsPerIp: n('max-connections-per-ip', 1, 1e6),
      connectionsPerSecondPerIp: n('connections-per-second-per-ip', 1, 1e6),
      maxPendingConnections: n('max-pending-connections', 1, 1e6),
      maxPeers: n('max-peers', 1, 1e6),
      expiryMs: n('expiry-s', 1, 3600) * 1000,
      maxRecordBytes: n('max-record-kb', 4, 1024) << 10,
      maxRegistryBytes: n('registry-mb', 1, 1 << 20) * (1 << 20),
      maxSubscriberBacklogBytes: n('subscriber-backlog-kb', 128, 1 << 20) * 1024,
      maxTotalBacklogBytes: n('backlog-mb', 1, 1 << 20) * (1 << 20),
      registryPeersPerIp: n('registry-peers-per-ip', 1, 1e6),
    },
  }
}
