import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { ProtocolError } from '../errors.js'
import { arr, bool, int, num, obj, oneOf, parseJson, str } from './validate.js'

/** The registry protocol: peers announce themselves to a relay and learn of each other. */
export const REGISTRY_PROTOCOL = '/peercompute/registry/1.0.0'
/** Largest registry frame. */
export const REGISTRY_MAX_FRAME = 64 * 1024

/** The kinds of machine a peer can be. */
export const SUBSTRATES = ['browser', 'node', 'gateway'] as const
export type Substrate = (typeof SUBSTRATES)[number]
/** How a peer prices its work. Browsers are free. */
export const PRICE_MODELS = ['free', 'per-invocation', 'per-hour', 'per-gb'] as const
export type PriceModelKind = (typeof PRICE_MODELS)[number]
/** The transports a connection can use, as peers report them. */
export const TRANSPORTS = ['webrtc', 'websocket', 'tcp', 'relayed'] as const
export type TransportKind = (typeof TRANSPORTS)[number]

/** The function hosts a gateway peer can front. */
export const GATEWAY_KINDS = ['aws-lambda', 'cloudflare-worker', 'http'] as const
export type GatewayKind = (typeof GATEWAY_KINDS)[number]

/**
 * What a gateway peer (substrate `gateway`) fronts: the function's host, its
 * measured round trip and its limits. Submitters place and price pieces by it.
 */
export interface GatewayInfo {
  kind: GatewayKind
  /** The function's round trip for an empty task, as the gateway measured it, ms. */
  latencyMs: number
  /** Largest input or output of one task the function takes inline, bytes (URL inputs are fetched by the function). */
  payloadBytes: number
  /** The function's time limit per task, s. */
  maxDurationS: number
  /** Tasks the gateway forwards at once. */
  concurrency: number
  /** Memory one invocation of the function has, MB. */
  memoryMb: number
}

/** What a peer offers. */
export interface Capabilities {
  cores: number
  memoryMb: number
  gpu: boolean
  /** Kernel names it runs. */
  kernels: string[]
  substrate: Substrate
  price: { model: PriceModelKind; usd: number }
  /** Set by gateway peers only: the function they forward tasks to. */
  gateway?: GatewayInfo
}

/** How busy a peer is. */
export interface Load {
  running: number
  queued: number
  /** Totals of the pieces this peer placed (its metrics ring), for the relay to show. */
  metrics?: LoadMetrics
}

/** A peer's job metrics as it publishes them. */
export interface LoadMetrics {
  ok: number
  failed: number
  bytes: number
  costUsd: number
}

/** A registered peer as the relay reports it. */
export interface PeerRecord {
  id: string
  addrs: string[]
  caps: Capabilities
  load: Load
}

/** One of a peer's connections, for the relay's mesh view. */
export interface MeshLink {
  peer: string
  transport: TransportKind
  rttMs?: number
}

/** Every registry message. */
export type RegistryMessage =
  | { type: 'announce'; addrs: string[]; caps: Capabilities; load: Load }
  | { type: 'heartbeat'; load: Load }
  | { type: 'subscribe' }
  | { type: 'join'; peer: PeerRecord }
  | { type: 'update'; peer: PeerRecord }
  | { type: 'leave'; id: string }
  | { type: 'mesh'; links: MeshLink[] }
  | { type: 'error'; code: string; message: string }

/** The type byte of each message (PROTOCOL.md). */
export const REGISTRY_TYPES = {
  announce: 1,
  heartbeat: 2,
  subscribe: 3,
  join: 4,
  update: 5,
  leave: 6,
  mesh: 7,
  error: 8,
} as const satisfies Record<RegistryMessage['type'], number>

const BY_CODE = new Map<number, RegistryMessage['type']>(
  Object.entries(REGISTRY_TYPES).map(([k, v]) => [v, k as RegistryMessage['type']]),
)

const LIMITS = { addrs: 32, addr: 512, kernels: 64, kernel: 64, id: 128, links: 256, text: 1024 }

/** A message as a frame payload: the type byte, then its fields as UTF-8 JSON. */
export function encodeRegistryMessage(msg: RegistryMessage): Uint8Array {
  const { type, ...body } = msg
  const json = new TextEncoder().encode(JSON.stringify(body))
  const out = new Uint8Array(1 + json.length)
  out[0] = REGISTRY_TYPES[type]
  out.set(json, 1)
  if (out.length > REGISTRY_MAX_FRAME) throw new RangeError(`registry message of ${out.length} bytes is too large`)
  return out
}

/** Decodes and validates a frame payload; anything malformed is a `ProtocolError`. */
export function decodeRegistryMessage(payload: Uint8Array): RegistryMessage {
  if (payload.length === 0) throw new ProtocolError('empty registry message')
  if (payload.length > REGISTRY_MAX_FRAME)
    throw new ProtocolError(`registry message of ${payload.length} bytes is too large`)
  const type = BY_CODE.get(payload[0])
  if (!type) throw new ProtocolError(`unknown registry message type ${payload[0]}`)
  const b = obj(parseJson(payload.subarray(1), type), type)
  switch (type) {
    case 'announce':
      return { type, addrs: addrs(b.addrs, undefined), caps: parseCapabilities(b.caps), load: parseLoad(b.load) }
    case 'heartbeat':
      return { type, load: parseLoad(b.load) }
    case 'subscribe':
      return { type }
    case 'join':
    case 'update':
      return { type, peer: record(b.peer) }
    case 'leave':
      return { type, id: str(b.id, 'id', LIMITS.id) }
    case 'mesh':
      return { type, links: arr(b.links, 'links', LIMITS.links, link) }
    case 'error':
      return { type, code: str(b.code, 'code', 64), message: str(b.message, 'message', LIMITS.text) }
  }
}

/**
 * A list of addresses: its shape (an array of at most 32 strings of at most 512
 * characters) is checked strictly, but an address that does not parse is
 * dropped, not refused: one bad address must not cost a peer its registry
 * stream. The rest of the code receives only canonical multiaddr strings.
 */
function addrs(v: unknown, owner: string | undefined): string[] {
  const raw = arr(v, 'addrs', LIMITS.addrs, (x, w) => str(x, w, LIMITS.addr))
  const out: string[] = []
  for (const a of raw) {
    const canonical = canonicalAddr(a, owner)
    if (canonical !== undefined && !out.includes(canonical)) out.push(canonical)
  }
  return out
}

/**
 * The canonical text of a peer's multiaddr, or undefined if it is not one a
 * peer may announce: it does not parse, is empty, names a `/p2p/` id that is
 * not a peer id, or (when `owner` is known) ends in another peer's id.
 */
export function canonicalAddr(text: string, owner?: string): string | undefined {
  try {
    const ma = multiaddr(text)
    const parts = ma.getComponents()
    if (parts.length === 0) return undefined
    const ids = parts.filter((c) => c.name === 'p2p').map((c) => c.value ?? '')
    for (const id of ids) peerIdFromString(id)
    if (owner !== undefined && ids.length > 0 && ids[ids.length - 1] !== owner) return undefined
    return ma.toString()
  } catch {
    return undefined
  }
}

/** A peer id as text; anything else is a `ProtocolError`. */
function peerId(v: unknown, what: string): string {
  const s = str(v, what, LIMITS.id)
  try {
    return peerIdFromString(s).toString()
  } catch {
    throw new ProtocolError(`${what} is not a peer id`)
  }
}

/** Reads capabilities from decoded JSON; anything malformed is a `ProtocolError`. */
export function parseCapabilities(v: unknown): Capabilities {
  const c = obj(v, 'caps')
  const p = obj(c.price, 'caps.price')
  const caps: Capabilities = {
    cores: int(c.cores, 'caps.cores', 0, 4096),
    memoryMb: int(c.memoryMb, 'caps.memoryMb', 0, 16 * 1024 * 1024),
    gpu: bool(c.gpu, 'caps.gpu'),
    kernels: arr(c.kernels, 'caps.kernels', LIMITS.kernels, (x, w) => str(x, w, LIMITS.kernel)),
    substrate: oneOf(c.substrate, 'caps.substrate', SUBSTRATES),
    price: { model: oneOf(p.model, 'caps.price.model', PRICE_MODELS), usd: num(p.usd, 'caps.price.usd', 0, 1e6) },
  }
  if (c.gateway !== undefined) caps.gateway = parseGatewayInfo(c.gateway)
  return caps
}

/** Reads a gateway's description from decoded JSON; anything malformed is a `ProtocolError`. */
function parseGatewayInfo(v: unknown): GatewayInfo {
  const g = obj(v, 'caps.gateway')
  return {
    kind: oneOf(g.kind, 'caps.gateway.kind', GATEWAY_KINDS),
    latencyMs: num(g.latencyMs, 'caps.gateway.latencyMs', 0, 3.6e6),
    payloadBytes: int(g.payloadBytes, 'caps.gateway.payloadBytes', 0, 2 ** 40),
    maxDurationS: num(g.maxDurationS, 'caps.gateway.maxDurationS', 0, 86_400),
    concurrency: int(g.concurrency, 'caps.gateway.concurrency', 1, 4096),
    memoryMb: int(g.memoryMb, 'caps.gateway.memoryMb', 0, 16 * 1024 * 1024),
  }
}

/** Reads a load from decoded JSON; anything malformed is a `ProtocolError`. */
export function parseLoad(v: unknown): Load {
  const l = obj(v, 'load')
  const out: Load = { running: int(l.running, 'load.running', 0, 1e9), queued: int(l.queued, 'load.queued', 0, 1e9) }
  if (l.metrics !== undefined) {
    const m = obj(l.metrics, 'load.metrics')
    out.metrics = {
      ok: int(m.ok, 'load.metrics.ok', 0, 1e15),
      failed: int(m.failed, 'load.metrics.failed', 0, 1e15),
      bytes: num(m.bytes, 'load.metrics.bytes', 0, 1e18),
      costUsd: num(m.costUsd, 'load.metrics.costUsd', 0, 1e12),
    }
  }
  return out
}

function record(v: unknown): PeerRecord {
  const r = obj(v, 'peer')
  const id = peerId(r.id, 'peer.id')
  return {
    id,
    addrs: addrs(r.addrs, id),
    caps: parseCapabilities(r.caps),
    load: parseLoad(r.load),
  }
}

function link(v: unknown, what: string): MeshLink {
  const l = obj(v, what)
  const out: MeshLink = {
    peer: str(l.peer, `${what}.peer`, LIMITS.id),
    transport: oneOf(l.transport, `${what}.transport`, TRANSPORTS),
  }
  if (l.rttMs !== undefined) out.rttMs = num(l.rttMs, `${what}.rttMs`, 0, 3.6e6)
  return out
}
