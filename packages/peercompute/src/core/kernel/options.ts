import { parsePublicKey } from '../code/keys.js'
import { resolveWgslLimits, type WgslLimits } from '../compute/gpu/remote-wgsl.js'
import { resolveLimits, type TaskLimits } from '../compute/mesh/executor/limits.js'
import { type GatewayBackend, isGatewayBackend } from '../compute/mesh/gateway-backend.js'
import { resolveUrlPolicy, type UrlPolicy } from '../compute/url-policy.js'
import { InvalidOptionError, UnsupportedOptionError } from '../errors.js'
import type { Topology } from '../network/topology.js'
import { type StateLimits, stateLimits } from '../state/limits.js'
import type { Membership } from '../state/state-manager.js'
import type { PriceModelKind } from '../wire/registry.js'

/** Where the node keeps its shared state between runs. */
export type StorageMode = 'memory' | 'local'

/** Options of `createNode`, common to both platforms. */
export interface NodeOptions {
  /** Relay multiaddrs, each ending in `/p2p/<relay id>`. */
  relays: string[]
  /** Default `distributed`. */
  topology?: Topology
  /** Default `memory`; `local` keeps the shared state across restarts. */
  storageMode?: StorageMode
  /** Default true: built-ins may run on WebGPU where an adapter exists, WGSL tasks run. */
  enableWebGPU?: boolean
  /** The mesh room whose document this node shares (default `peercompute`). */
  room?: string
  /** Who may share the room's document. */
  membership?: Membership
  /** Bounds on what peers may send the shared state, per peer and node-wide (defaults: `DEFAULT_STATE_LIMITS`). */
  stateLimits?: Partial<StateLimits>
  /** This node's price for work it runs for others (default free). */
  price?: { model: PriceModelKind; usd: number }
  /** Most worker threads / Web Workers (default cores − 1). */
  maxWorkers?: number
  /** Most of the cores to use, as a fraction (volunteers). */
  maxCpuFraction?: number
  /**
   * Which URLs this node fetches for URL-range inputs, for any peer's task and
   * its own (default: public http(s) hosts only). See `UrlPolicy`.
   */
  urlPolicy?: UrlPolicy
  /** Limits on tasks from other peers. */
  limits?: Partial<TaskLimits>
  /** Limits on signed WGSL tasks from other peers on this node's GPU (defaults: `WGSL_LIMITS`). */
  wgslLimits?: Partial<WgslLimits>
  /** How often the `status` event fires and presence is refreshed, ms (default 5,000). */
  statusIntervalMs?: number
  /** Not built yet: setting it fails with `UnsupportedOptionError`. */
  enablePhysics?: boolean
  /** Not built yet: setting it fails with `UnsupportedOptionError`. */
  enableInput?: boolean
  /**
   * Publisher keys (`ed25519:…`) whose signed kernels this node runs for
   * other peers (Node only; at most MAX_TRUSTED_KEYS). Without it no traveling code runs here.
   */
  trust?: string[]
  /**
   * Makes this node a gateway: the tasks it accepts from other peers are
   * forwarded to a function through this backend instead of running on its
   * pool, and it advertises substrate `gateway` with the backend's info,
   * concurrency as cores, and `price`. See `@peercompute/gateway`.
   */
  gateway?: GatewayBackend
  /** Test-only fault injection (a lying executor): see `TaskExecutorInit.tamper`. */
  tamper?: (kernel: string, output: unknown) => unknown
  log?: (line: string) => void
}

/** Most publisher keys a node trusts (each is advertised in its capabilities). */
export const MAX_TRUSTED_KEYS = 16

const TOPOLOGIES: readonly string[] = ['distributed', 'hierarchy', 'emergent']

/** Checks the options both platforms share; bad ones throw before anything starts. */
export function checkNodeOptions(o: NodeOptions): void {
  if (!o || typeof o !== 'object') throw new TypeError('createNode takes an options object')
  if (o.enablePhysics) throw new UnsupportedOptionError('enablePhysics: the physics manager is not built yet')
  if (o.enableInput) throw new UnsupportedOptionError('enableInput: the input manager is not built yet')
  if (!Array.isArray(o.relays) || o.relays.some((r) => typeof r !== 'string' || !r.includes('/p2p/')))
    throw new TypeError('relays must be an array of multiaddrs ending in /p2p/<relay id>')
  if (o.topology !== undefined && !TOPOLOGIES.includes(o.topology))
    throw new TypeError(`topology must be one of ${TOPOLOGIES.join(', ')}; got ${String(o.topology)}`)
  if (o.storageMode !== undefined && o.storageMode !== 'memory' && o.storageMode !== 'local')
    throw new TypeError(`storageMode must be 'memory' or 'local'; got ${String(o.storageMode)}`)
  if (o.room !== undefined && (typeof o.room !== 'string' || !/^[\w.-]{1,64}$/.test(o.room)))
    throw new TypeError('room must be 1 to 64 letters, digits, _ . or -')
  resolveUrlPolicy(o.urlPolicy) // throws a TypeError that names the bad field
  if (o.stateLimits !== undefined) stateLimits(o.stateLimits) // a RangeError names the bad one
  if (o.limits !== undefined) resolveLimits(o.limits) // throws InvalidOptionError before anything starts
  if (o.wgslLimits !== undefined) resolveWgslLimits(o.wgslLimits)
  if (o.gateway !== undefined && !isGatewayBackend(o.gateway))
    throw new InvalidOptionError(
      'gateway must be a GatewayBackend (forwards: true, run, hasKernel, info, kernels, load)',
    )
  if (o.trust !== undefined) {
    if (!Array.isArray(o.trust) || o.trust.length > MAX_TRUSTED_KEYS)
      throw new InvalidOptionError(`trust must be an array of at most ${MAX_TRUSTED_KEYS} publisher keys`)
    for (const k of o.trust) parsePublicKey(k) // InvalidOptionError names the bad key
  }
}
