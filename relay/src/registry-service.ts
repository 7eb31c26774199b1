import type { Connection, PeerId, Stream } from '@libp2p/interface'
import {
  closeConnectionOnTrickle,
  decodeRegistryMessage,
  encodeFrame,
  encodeRegistryMessage,
  FramedStream,
  type Load,
  type MeshLink,
  type PeerRecord,
  RateLimitedError,
  REGISTRY_MAX_FRAME,
  type RegistryMessage,
} from 'peercompute'
import { ipOf } from './ip.js'
import { BUCKET_ENTRY_BYTES, type LimitedKind, RegistryLimiter, type RegistryLimiterInit } from './rate-limit.js'
import { type MemoryBound, memoryBound, recordCost, SESSION_BYTES } from './registry-memory.js'

/** Options of the registry. */
export interface RegistryInit {
  /** A peer that sends nothing for this long is dropped (default 15 s). */
  expiryMs?: number
  /** Most registered peers (default 10,000). */
  maxPeers?: number
  /** Most registry streams at once, one per peer (default 4,096: the relay's connection limit). */
  maxSessions?: number
  /** Largest accounted cost of one record, its mesh report included (default 64 KiB; see registry-memory.ts). */
  maxRecordBytes?: number
  /** Accounted cost of all records together (default 64 MiB). */
  maxRecordsBytes?: number
  /** Unsent bytes one subscriber may have before it is dropped (default 1 MiB). */
  maxBacklogBytes?: number
  /** Unsent bytes all subscribers together may have; the largest backlogs are dropped first (default 128 MiB). */
  maxTotalBacklogBytes?: number
  /** Rate limits per peer id and per IP. */
  rates?: RegistryLimiterInit
  log?: (line: string) => void
}

/** A registered peer as the relay keeps it. */
export interface RegistryEntry {
  record: PeerRecord
  lastSeen: number
  registeredAt: number
  links: MeshLink[]
  /** Accounted memory cost of this entry, bytes. */
  bytes: number
}

interface Held extends RegistryEntry {
  announceBytes: number
  meshBytes: number
  /** The `join` frame every subscriber gets, encoded once. */
  joinFrame: Uint8Array
}

interface Session {
  id: string
  ip: string
  connection: Connection
  stream: Stream
  framed: FramedStream<RegistryMessage>
  subscribed: boolean
}

const codec = { encode: encodeRegistryMessage, decode: decodeRegistryMessage, maxFrame: REGISTRY_MAX_FRAME }
const frameOf = (msg: RegistryMessage) => encodeFrame(encodeRegistryMessage(msg))

/**
 * The peer registry: peers announce their addresses, capabilities and load over
 * the registry protocol, heartbeat, and hear of each other's joins, updates and
 * leaves. Malformed input costs the sender its stream; floods cost it its
 * connection; a subscriber that does not read is dropped. What it holds stays
 * under `memoryBound()`.
 */
export class RegistryService {
  private readonly held = new Map<string, Held>()
  /** Registered peers by id. */
  readonly peers: ReadonlyMap<string, RegistryEntry> = this.held
  /** Announcements accepted since start. */
  announcements = 0
  /** Streams or connections cut for floods or backlog, since start. */
  cutOff = 0
  private recordBytes = 0
  private readonly sessions = new Map<string, Session>()
  private readonly limiter: RegistryLimiter
  private readonly init: Required<Omit<RegistryInit, 'log' | 'rates'>> & Pick<RegistryInit, 'log'>
  private sweeper?: ReturnType<typeof setInterval>

  constructor(init: RegistryInit = {}) {
    const { rates, ...rest } = init
    this.init = {
      expiryMs: 15_000,
      maxPeers: 10_000,
      maxSessions: 4096,
      maxRecordBytes: 64 << 10,
      maxRecordsBytes: 64 << 20,
      maxBacklogBytes: 1 << 20,
      maxTotalBacklogBytes: 128 << 20,
      ...rest,
    }
    this.limiter = new RegistryLimiter({ maxKeys: 2 * this.init.maxSessions, ...rates })
  }

  start(): void {
    this.sweeper = setInterval(() => this.sweep(), Math.min(1000, this.init.expiryMs / 3))
    this.sweeper.unref?.()
  }

  stop(): void {
    clearInterval(this.sweeper)
    // graceful: a reset would make peers hang up and redial a relay still stopping; the
    // connections end with the node, which also ends a close waiting on a peer that does not read
    for (const s of this.sessions.values()) void s.framed.close()
    this.sessions.clear()
    this.held.clear()
    this.recordBytes = 0
  }

  /** The bound the registry's limits put on its memory, by part (see README). */
  memoryBound(): MemoryBound {
    return memoryBound({
      ...this.init,
      maxFrame: REGISTRY_MAX_FRAME,
      limiterKeys: 2 * this.limiter.maxKeys,
      bucketEntryBytes: BUCKET_ENTRY_BYTES,
    })
  }

  /** `memoryBound().total`. */
  memoryBoundBytes(): number {
    return this.memoryBound().total
  }

  /** What the registry holds now, accounted the same way as the bound. */
  memoryUsedBytes(): number {
    let n = this.recordBytes + this.limiter.keys * BUCKET_ENTRY_BYTES
    for (const s of this.sessions.values()) n += SESSION_BYTES + s.framed.bufferedBytes + s.stream.writeBufferLength
    return n
  }

  /** Registry streams open now. */
  get sessionCount(): number {
    return this.sessions.size
  }

  /** The protocol handler. */
  readonly handle = (stream: Stream, connection: Connection): void => {
    const id = connection.remotePeer.toString()
    if (this.limiter.isBanned(id)) {
      stream.abort(new RateLimitedError('cut off for flooding the registry'))
      connection.abort(new RateLimitedError('cut off for flooding the registry'))
      return
    }
    const old = this.sessions.get(id)
    if (!old && this.sessions.size >= this.init.maxSessions) {
      stream.abort(new RateLimitedError(`registry holds ${this.init.maxSessions} streams`))
      return
    }
    // a frame trickled in tiny pieces resets the stream (FramedStream); this closes the connection too
    closeConnectionOnTrickle(stream, connection, this.init.log)
    // libp2p resets the stream itself if its unsent data ever passes this (a backstop: we check first)
    stream.maxWriteBufferLength = this.init.maxBacklogBytes + 2 * REGISTRY_MAX_FRAME
    const session: Session = {
      id,
      ip: ipOf(connection.remoteAddr),
      connection,
      stream,
      subscribed: false,
      framed: new FramedStream(stream, codec, {
        onMessage: (msg) => this.onMessage(session, msg),
        onClose: (err) => {
          if (err) this.init.log?.(`registry: stream from ${id} failed: ${err.message}`)
          if (this.sessions.get(id) === session) {
            this.sessions.delete(id)
            this.remove(id, 'stream closed')
          }
        },
      }),
    }
    // one registry stream per peer: a new one replaces the old, which may hold unsent data
    this.sessions.set(id, session)
    if (old) old.stream.abort(new Error('replaced by a new registry stream'))
  }

  /** Drops a peer whose connection ended. */
  connectionClosed(peer: PeerId): void {
    const id = peer.toString()
    const s = this.sessions.get(id)
    if (s) {
      this.sessions.delete(id)
      s.stream.abort(new Error('connection closed'))
    }
    this.remove(id, 'disconnected')
  }

  private onMessage(s: Session, msg: RegistryMessage): void {
    if (this.sessions.get(s.id) !== s) return
    if (msg.type === 'announce' || msg.type === 'heartbeat' || msg.type === 'subscribe' || msg.type === 'mesh') {
      if (!this.admit(s, msg.type)) return
    }
    const now = Date.now()
    switch (msg.type) {
      case 'announce':
        this.onAnnounce(s, msg, now)
        return
      case 'heartbeat': {
        const e = this.held.get(s.id)
        if (!e) return
        e.lastSeen = now
        if (!sameLoad(e.record.load, msg.load)) this.replace(e, { ...e.record, load: msg.load })
        return
      }
      case 'subscribe':
        // the snapshot is sent once per stream; a second subscribe changes nothing
        if (s.subscribed) return
        s.subscribed = true
        this.snapshot(s).catch(() => s.stream.abort(new Error('snapshot failed')))
        return
      case 'mesh': {
        const e = this.held.get(s.id)
        if (!e) return
        const meshBytes = encodeRegistryMessage(msg).length
        const cost = recordCost(e.announceBytes, meshBytes, e.record, msg.links.length)
        if (!this.fits(s, e, cost)) return
        this.recordBytes += cost - e.bytes
        e.bytes = cost
        e.meshBytes = meshBytes
        e.links = msg.links
        e.lastSeen = now
        return
      }
      default:
        this.tell(s, { type: 'error', code: 'bad-message', message: `${msg.type} is for relays to send` })
    }
  }

  private onAnnounce(s: Session, msg: Extract<RegistryMessage, { type: 'announce' }>, now: number): void {
    const existing = this.held.get(s.id)
    if (!existing && this.held.size >= this.init.maxPeers) {
      this.tell(s, { type: 'error', code: 'registry-full', message: `registry holds ${this.init.maxPeers} peers` })
      return
    }
    const record: PeerRecord = { id: s.id, addrs: msg.addrs, caps: msg.caps, load: msg.load }
    const announceBytes = encodeRegistryMessage(msg).length
    if (existing) {
      if (this.replace(existing, record, announceBytes)) this.announcements++
      existing.lastSeen = now
      return
    }
    const cost = recordCost(announceBytes, 0, record, 0)
    const joinFrame = this.encodeRecord(s, 'join', record)
    if (!joinFrame || !this.fits(s, undefined, cost)) return
    this.held.set(s.id, {
      record,
      lastSeen: now,
      registeredAt: now,
      links: [],
      bytes: cost,
      announceBytes,
      meshBytes: 0,
      joinFrame,
    })
    this.recordBytes += cost
    this.announcements++
    this.init.log?.(`peer joined: ${s.id} (${msg.caps.substrate}, ${msg.caps.cores} cores)`)
    this.broadcast(joinFrame)
  }

  /** Replaces an entry's record if it fits, and tells every subscriber. */
  private replace(e: Held, record: PeerRecord, wireBytes?: number): boolean {
    const s = this.sessions.get(record.id)
    const joinFrame = s ? this.encodeRecord(s, 'join', record) : undefined
    if (!s || !joinFrame) return false
    // a heartbeat's new load: the record's wire size is about its join frame's
    const announceBytes = wireBytes ?? joinFrame.length
    const cost = recordCost(announceBytes, e.meshBytes, record, e.links.length)
    if (!this.fits(s, e, cost)) return false
    this.recordBytes += cost - e.bytes
    Object.assign(e, { record, announceBytes, bytes: cost, joinFrame })
    this.broadcast(frameOf({ type: 'update', peer: record }))
    return true
  }

  private encodeRecord(s: Session, type: 'join', record: PeerRecord): Uint8Array | undefined {
    try {
      return frameOf({ type, peer: record })
    } catch {
      this.tell(s, { type: 'error', code: 'record-too-large', message: 'record does not fit in a frame' })
      return undefined
    }
  }

  /** True if an entry of accounted `cost` (replacing `e`, if any) fits the per-record and total budgets. */
  private fits(s: Session, e: Held | undefined, cost: number): boolean {
    if (cost > this.init.maxRecordBytes) {
      this.tell(s, {
        type: 'error',
        code: 'record-too-large',
        message: `record costs ${cost} bytes, over ${this.init.maxRecordBytes}`,
      })
      return false
    }
    if (this.recordBytes - (e?.bytes ?? 0) + cost > this.init.maxRecordsBytes) {
      this.tell(s, { type: 'error', code: 'registry-full', message: 'registry is out of memory for records' })
      return false
    }
    return true
  }

  /** Spends the sender's budget for `kind`; a peer out of strikes loses its connection. */
  private admit(s: Session, kind: LimitedKind): boolean {
    const verdict = this.limiter.admit(s.id, s.ip, kind)
    if (verdict === 'ok') return true
    if (verdict === 'limited') {
      this.tell(s, { type: 'error', code: 'rate-limited', message: `too many ${kind} messages` })
      return false
    }
    this.cutOff++
    this.init.log?.(`registry: cut off ${s.id} (${s.ip}) for flooding`)
    s.connection.abort(new RateLimitedError('cut off for flooding the registry'))
    this.connectionClosed(s.connection.remotePeer)
    return false
  }

  /** Sends every registered peer as `join`, one frame at a time as the stream drains. */
  private async snapshot(s: Session): Promise<void> {
    // a live iterator: peers that leave meanwhile are skipped, peers that join are sent by broadcast (or here too)
    for (const e of this.held.values()) {
      if (this.sessions.get(s.id) !== s || s.stream.status !== 'open') return
      if (s.stream.writableNeedsDrain) await s.stream.onDrain()
      if (this.sessions.get(s.id) !== s || !this.held.has(e.record.id)) continue
      this.deliver(s, e.joinFrame)
    }
  }

  /** Sends an `error` to a peer that is reading (one that is not does not need to hear it). */
  private tell(s: Session, msg: RegistryMessage): void {
    if (s.stream.writeBufferLength === 0) this.deliver(s, frameOf(msg))
  }

  /** Sends one frame unless it would pass the session's backlog bound, in which case the session is dropped. */
  private deliver(s: Session, frame: Uint8Array): void {
    if (s.stream.status !== 'open' || s.stream.writeStatus !== 'writable') return
    if (s.stream.writeBufferLength + frame.length > this.init.maxBacklogBytes) {
      this.drop(s)
      return
    }
    try {
      s.stream.send(frame)
    } catch (err) {
      s.stream.abort(err as Error)
    }
  }

  private drop(s: Session): void {
    this.cutOff++
    this.init.log?.(`registry: dropped subscriber ${s.id}: ${s.stream.writeBufferLength} bytes unsent`)
    s.stream.abort(new RateLimitedError(`subscriber backlog over ${this.init.maxBacklogBytes} bytes`))
  }

  /** Sends a frame to every subscriber, first dropping those whose backlog the frame would take past a bound. */
  private broadcast(frame: Uint8Array): void {
    const subs: Session[] = []
    let total = 0
    for (const s of this.sessions.values()) {
      total += s.stream.writeBufferLength
      if (s.subscribed && s.stream.status === 'open') subs.push(s)
    }
    if (total + frame.length * subs.length > this.init.maxTotalBacklogBytes) {
      // the node-wide budget: the slowest readers go first
      subs.sort((a, b) => b.stream.writeBufferLength - a.stream.writeBufferLength)
      while (subs.length > 0 && total + frame.length * subs.length > this.init.maxTotalBacklogBytes) {
        const s = subs.shift() as Session
        total -= s.stream.writeBufferLength
        this.drop(s)
      }
    }
    for (const s of subs) this.deliver(s, frame)
  }

  private remove(id: string, why: string): void {
    const e = this.held.get(id)
    if (!e) return
    this.held.delete(id)
    this.recordBytes -= e.bytes
    this.init.log?.(`peer left: ${id} (${why})`)
    this.broadcast(frameOf({ type: 'leave', id }))
  }

  private sweep(): void {
    const now = Date.now()
    const cutoff = now - this.init.expiryMs
    for (const [id, e] of this.held) if (e.lastSeen < cutoff) this.remove(id, 'missed heartbeats')
    this.limiter.sweep(now)
  }
}

function sameLoad(a: Load, b: Load): boolean {
  const m = (l: Load) =>
    l.metrics ? `${l.metrics.ok}/${l.metrics.failed}/${l.metrics.bytes}/${l.metrics.costUsd}` : ''
  return a.running === b.running && a.queued === b.queued && m(a) === m(b)
}
