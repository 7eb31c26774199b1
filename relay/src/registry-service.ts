import type { Connection, PeerId, Stream } from '@libp2p/interface'
import {
  decodeRegistryMessage,
  encodeRegistryMessage,
  FramedStream,
  type Load,
  type MeshLink,
  type PeerRecord,
  REGISTRY_MAX_FRAME,
  type RegistryMessage,
} from 'peercompute'

/** Options of the registry. */
export interface RegistryInit {
  /** A peer that sends nothing for this long is dropped (default 15 s). */
  expiryMs?: number
  /** Most registered peers (default 10,000). */
  maxPeers?: number
  /** Most announcements per second from one peer (default 10). */
  maxAnnouncesPerSecond?: number
  log?: (line: string) => void
}

/** A registered peer as the relay keeps it. */
export interface RegistryEntry {
  record: PeerRecord
  lastSeen: number
  registeredAt: number
  links: MeshLink[]
}

interface Session {
  peer: PeerId
  framed: FramedStream<RegistryMessage>
  subscribed: boolean
  announces: number[]
}

const codec = { encode: encodeRegistryMessage, decode: decodeRegistryMessage, maxFrame: REGISTRY_MAX_FRAME }

/**
 * The peer registry: peers announce their addresses, capabilities and load over
 * the registry protocol, heartbeat, and hear of each other's joins, updates and
 * leaves. Malformed input costs the sender its stream, nobody else anything.
 */
export class RegistryService {
  readonly peers = new Map<string, RegistryEntry>()
  /** Announcements accepted since start. */
  announcements = 0
  private readonly sessions = new Map<string, Session>()
  private readonly init: Required<Omit<RegistryInit, 'log'>> & Pick<RegistryInit, 'log'>
  private sweeper?: ReturnType<typeof setInterval>

  constructor(init: RegistryInit = {}) {
    this.init = { expiryMs: 15_000, maxPeers: 10_000, maxAnnouncesPerSecond: 10, ...init }
  }

  start(): void {
    this.sweeper = setInterval(() => this.sweep(), Math.min(1000, this.init.expiryMs / 3))
    this.sweeper.unref?.()
  }

  stop(): void {
    clearInterval(this.sweeper)
    for (const s of this.sessions.values()) void s.framed.close()
    this.sessions.clear()
    this.peers.clear()
  }

  /** The protocol handler. */
  readonly handle = (stream: Stream, connection: Connection): void => {
    const peer = connection.remotePeer
    const id = peer.toString()
    // one registry stream per peer: a new one replaces the old
    const old = this.sessions.get(id)
    const session: Session = {
      peer,
      subscribed: false,
      announces: [],
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
    this.sessions.set(id, session)
    if (old) void old.framed.close()
  }

  /** Drops a peer whose connection ended. */
  connectionClosed(peer: PeerId): void {
    const id = peer.toString()
    const s = this.sessions.get(id)
    if (s) {
      this.sessions.delete(id)
      void s.framed.close()
    }
    this.remove(id, 'disconnected')
  }

  private onMessage(s: Session, msg: RegistryMessage): void {
    const id = s.peer.toString()
    const now = Date.now()
    switch (msg.type) {
      case 'announce': {
        s.announces = s.announces.filter((t) => now - t < 1000)
        if (s.announces.length >= this.init.maxAnnouncesPerSecond) {
          void s.framed.send({ type: 'error', code: 'rate-limited', message: 'too many announcements' }).catch(() => {})
          return
        }
        s.announces.push(now)
        const existing = this.peers.get(id)
        if (!existing && this.peers.size >= this.init.maxPeers) {
          void s.framed
            .send({ type: 'error', code: 'registry-full', message: `registry holds ${this.init.maxPeers} peers` })
            .catch(() => {})
          return
        }
        const record: PeerRecord = { id, addrs: msg.addrs, caps: msg.caps, load: msg.load }
        this.peers.set(id, {
          record,
          lastSeen: now,
          registeredAt: existing?.registeredAt ?? now,
          links: existing?.links ?? [],
        })
        this.announcements++
        if (!existing) this.init.log?.(`peer joined: ${id} (${msg.caps.substrate}, ${msg.caps.cores} cores)`)
        this.broadcast({ type: existing ? 'update' : 'join', peer: record })
        return
      }
      case 'heartbeat': {
        const e = this.peers.get(id)
        if (!e) return
        e.lastSeen = now
        if (!sameLoad(e.record.load, msg.load)) {
          e.record = { ...e.record, load: msg.load }
          this.broadcast({ type: 'update', peer: e.record })
        }
        return
      }
      case 'subscribe':
        s.subscribed = true
        for (const e of this.peers.values()) void s.framed.send({ type: 'join', peer: e.record }).catch(() => {})
        return
      case 'mesh': {
        const e = this.peers.get(id)
        if (e) {
          e.links = msg.links
          e.lastSeen = now
        }
        return
      }
      default:
        void s.framed
          .send({ type: 'error', code: 'bad-message', message: `${msg.type} is for relays to send` })
          .catch(() => {})
    }
  }

  private remove(id: string, why: string): void {
    if (!this.peers.delete(id)) return
    this.init.log?.(`peer left: ${id} (${why})`)
    this.broadcast({ type: 'leave', id })
  }

  private broadcast(msg: RegistryMessage): void {
    for (const s of this.sessions.values()) {
      if (s.subscribed && !s.framed.isClosed) void s.framed.send(msg).catch(() => {})
    }
  }

  private sweep(): void {
    const cutoff = Date.now() - this.init.expiryMs
    for (const [id, e] of this.peers) if (e.lastSeen < cutoff) this.remove(id, 'missed heartbeats')
  }
}

function sameLoad(a: Load, b: Load): boolean {
  const m = (l: Load) =>
    l.metrics ? `${l.metrics.ok}/${l.metrics.failed}/${l.metrics.bytes}/${l.metrics.costUsd}` : ''
  return a.running === b.running && a.queued === b.queued && m(a) === m(b)
}
