import type { Libp2p } from '@libp2p/interface'
import type { Capabilities, Load, PeerRecord, TransportKind } from '../wire/registry.js'
import type { BackoffInit } from './backoff.js'
import type { DialRules } from './dial-policy.js'
import type { PeerDirectory } from './peer-directory.js'
import type { Topology } from './topology.js'

/** Events of a NetworkManager. */
export interface NetworkEvents {
  /** A peer appeared in a relay's registry. */
  'peer:join': CustomEvent<PeerRecord>
  /** A known peer announced new addresses, capabilities or load. */
  'peer:update': CustomEvent<PeerRecord>
  /** No relay lists the peer any more (it left, died or missed its heartbeats). */
  'peer:leave': CustomEvent<{ id: string }>
  /** A peer reached over a relay is now connected directly. */
  'connection:upgrade': CustomEvent<{ peer: string; from: TransportKind; to: TransportKind }>
  'relay:connect': CustomEvent<{ relay: string }>
  'relay:disconnect': CustomEvent<{ relay: string }>
}

/** Options of a NetworkManager. */
export interface NetworkManagerInit {
  /** A libp2p node (not started) with the circuit relay transport, listening on `/p2p-circuit` once per relay. */
  libp2p: Libp2p
  /** Relay multiaddrs, each ending in `/p2p/<relay id>`. */
  relays: string[]
  /**
   * Which peer addresses may be dialled (default: public unicast only, circuits
   * only through `relays`). The platforms' `createNetworkManager` builds it from
   * their `dialPolicy` option and gives the same rules to libp2p's gater.
   */
  dialRules?: DialRules
  topology?: Topology
  /** Most direct peer connections (default 32). */
  maxPeerConnections?: number
  /** hierarchy: children per peer (default 4). */
  children?: number
  /** emergent: lowest-latency peers to keep (default 4). */
  k?: number
  /** What this peer offers, as announced (read at each announcement). */
  capabilities: () => Capabilities
  /** How busy this peer is (read at each heartbeat). */
  load?: () => Load
  /** Default 5,000 ms. */
  heartbeatMs?: number
  /** RTT measurement interval (default 10,000 ms). */
  pingIntervalMs?: number
  /** Re-connection back-off to relays (default 500 ms doubling to 30 s, with jitter). */
  relayBackoff?: BackoffInit
  /** Back-off of direct-connection upgrade attempts (default 1 s doubling to 60 s). */
  upgradeBackoff?: BackoffInit
  /** How long after connecting to a relay its reservation must show up (default 5,000 ms). */
  reservationTimeoutMs?: number
  log?: (line: string) => void
}

/** A connection as `getStatus()` reports it. */
export interface ConnectionInfo {
  peer: string
  transport: TransportKind
  remoteAddr: string
  direction: 'inbound' | 'outbound'
  relay: boolean
  rttMs?: number
}

/** The network part of a node's status. */
export interface NetworkStatus {
  peerId: string
  topology: Topology
  relays: Array<{ id: string; connected: boolean; reserved: boolean; registered: boolean }>
  connections: ConnectionInfo[]
  peers: Array<PeerRecord & { rttMs?: number; connected: TransportKind | null }>
  neighbors: string[]
}

/** What the parts of a NetworkManager share (internal). */
export interface MeshContext {
  readonly libp2p: Libp2p
  readonly init: NetworkManagerInit
  readonly topology: Topology
  readonly relayIds: ReadonlySet<string>
  /** Peers known from the registries, with the addresses the dial policy allows. */
  readonly directory: PeerDirectory
  /** The last RTT measured to each peer, ms. */
  readonly rtt: Map<string, number>
  readonly peerId: string
  isStopped(): boolean
  log(line: string): void
  dispatch<K extends keyof NetworkEvents>(type: K, detail: NetworkEvents[K]['detail']): void
  /** Re-runs the topology soon (debounced). */
  scheduleReconcile(): void
}
