import type { PeerId } from '@libp2p/interface'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { FramedStream } from '../wire/framed-stream.js'
import {
  decodeRegistryMessage,
  encodeRegistryMessage,
  REGISTRY_MAX_FRAME,
  REGISTRY_PROTOCOL,
  type RegistryMessage,
} from '../wire/registry.js'
import { Backoff } from './backoff.js'
import type { ConnectionInfo, MeshContext, NetworkStatus } from './network-types.js'
import { newGuardedStream } from './trickle-guard.js'

interface RelayState {
  addr: Multiaddr
  id: string
  peerId?: PeerId
  backoff: Backoff
  timer?: ReturnType<typeof setTimeout>
  connected: boolean
  connecting: boolean
  registry?: FramedStream<RegistryMessage>
  registered: boolean
  /** Peers this relay lists. */
  members: Set<string>
  /** Peers (re)listed since the last subscribe: after a relay restart, the rest are stale. */
  fresh: Set<string>
  pruneTimer?: ReturnType<typeof setTimeout>
  watchTimer?: ReturnType<typeof setTimeout>
}

const codec = { encode: encodeRegistryMessage, decode: decodeRegistryMessage, maxFrame: REGISTRY_MAX_FRAME }

/** Parses the configured relay addresses; a bad one is a TypeError naming it. */
export function parseRelays(relays: readonly string[]): Array<{ addr: Multiaddr; id: string }> {
  return relays.map((a) => {
    let addr: Multiaddr
    try {
      addr = multiaddr(a)
    } catch (err) {
      throw new TypeError(`relay address ${a} is not a multiaddr (${(err as Error).message})`)
    }
    const id = addr.getComponents().findLast((c) => c.name === 'p2p')?.value
    if (!id) throw new TypeError(`relay address ${a} does not end in /p2p/<peer id>`)
    return { addr, id }
  })
}

/**
 * The registry client: keeps a connection, a reservation and a registry stream
 * on every configured relay, announces and heartbeats on each, and feeds the
 * peers they list into the directory. Repairs itself with back-off.
 */
export class RelaySessions {
  private readonly ctx: MeshContext
  private readonly relays: RelayState[]

  constructor(ctx: MeshContext, relays: Array<{ addr: Multiaddr; id: string }>) {
    this.ctx = ctx
    this.relays = relays.map(({ addr, id }) => ({
      addr,
      id,
      backoff: new Backoff(ctx.init.relayBackoff),
      connected: false,
      connecting: false,
      registered: false,
      members: new Set(),
      fresh: new Set(),
    }))
  }

  /** Begins joining every relay (returns at once; failures retry with back-off). */
  start(): void {
    for (const r of this.relays) this.connectInBackground(r)
  }

  /** Ends every timer and registry stream (libp2p is stopped by the caller). */
  async stop(): Promise<void> {
    for (const r of this.relays) {
      clearTimeout(r.timer)
      clearTimeout(r.pruneTimer)
      clearTimeout(r.watchTimer)
      await r.registry?.close().catch(() => {})
    }
  }

  /** Each relay's state, for the status. */
  status(): NetworkStatus['relays'] {
    const addrs = this.ctx.libp2p.getMultiaddrs().map(String)
    return this.relays.map((r) => ({
      id: r.id,
      connected: r.connected,
      reserved: addrs.some((a) => a.includes(`/p2p/${r.id}/p2p-circuit`)),
      registered: r.registered,
    }))
  }

  /** Tells every relay this peer's addresses, capabilities and load now. */
  announce(): void {
    const msg = this.announcement()
    if (!msg) return
    for (const r of this.relays) r.registry?.send(msg).catch(() => {})
  }

  /** Sends every relay a heartbeat and this peer's links (for the relay's mesh view). */
  heartbeat(links: ConnectionInfo[]): void {
    let load: RegistryMessage & { type: 'heartbeat' }
    try {
      load = { type: 'heartbeat', load: this.ctx.init.load?.() ?? { running: 0, queued: 0 } }
    } catch (err) {
      this.ctx.log(`heartbeat: load(): ${(err as Error).message}`)
      return
    }
    const mesh: RegistryMessage = {
      type: 'mesh',
      links: links
        .filter((c) => !c.relay)
        .slice(0, 256)
        .map((c) => ({ peer: c.peer, transport: c.transport, ...(c.rttMs !== undefined ? { rttMs: c.rttMs } : {}) })),
    }
    for (const r of this.relays) {
      if (!r.registry) continue
      r.registry.send(load).catch(() => {})
      r.registry.send(mesh).catch(() => {})
    }
  }

  /** A peer disconnected: if it is a relay, start over with it; true if it was one. */
  onDisconnect(id: string): boolean {
    const r = this.relays.find((x) => x.id === id)
    if (!r) return false
    r.connected = false
    r.registered = false
    r.registry?.close().catch(() => {})
    r.registry = undefined
    this.ctx.dispatch('relay:disconnect', { relay: r.id })
    this.scheduleRelay(r)
    return true
  }

  private connectInBackground(r: RelayState): void {
    this.connectRelay(r).catch((err) => this.ctx.log(`relay ${r.id}: ${(err as Error).message}`))
  }

  private async connectRelay(r: RelayState): Promise<void> {
    if (this.ctx.isStopped() || r.connecting) return
    r.connecting = true
    try {
      const conn = await this.ctx.libp2p.dial(r.addr, { signal: AbortSignal.timeout(10_000) })
      r.peerId = conn.remotePeer
      r.connected = true
      this.ctx.dispatch('relay:connect', { relay: r.id })
      await this.openRegistry(r, conn.remotePeer)
      this.watchReservation(r)
    } catch (err) {
      this.ctx.log(`relay ${r.id}: ${(err as Error).message}`)
      r.connected = this.ctx.libp2p.getConnections().some((c) => c.remotePeer.toString() === r.id)
      if (!r.connected) this.scheduleRelay(r)
    } finally {
      r.connecting = false
    }
  }

  private scheduleRelay(r: RelayState): void {
    if (this.ctx.isStopped() || r.timer) return
    const delay = r.backoff.next()
    r.timer = setTimeout(() => {
      r.timer = undefined
      this.connectInBackground(r)
    }, delay)
  }

  private hangUp(r: RelayState): void {
    if (r.peerId) this.ctx.libp2p.hangUp(r.peerId).catch(() => {})
  }

  /** libp2p may not re-reserve after a relay restart: if no reservation shows up, reconnect. */
  private watchReservation(r: RelayState): void {
    const timeout = this.ctx.init.reservationTimeoutMs ?? 5000
    clearTimeout(r.watchTimer)
    r.watchTimer = setTimeout(() => {
      if (this.ctx.isStopped() || !r.connected) return
      const reserved = this.ctx.libp2p.getMultiaddrs().some((a) => a.toString().includes(`/p2p/${r.id}/p2p-circuit`))
      if (reserved) {
        r.backoff.reset()
        return
      }
      this.ctx.log(`relay ${r.id}: no reservation after ${timeout} ms; reconnecting`)
      this.hangUp(r)
    }, timeout)
  }

  private async openRegistry(r: RelayState, peer: PeerId): Promise<void> {
    const signal = AbortSignal.timeout(10_000)
    const conn = await this.ctx.libp2p.dial(peer, { signal })
    const stream = await newGuardedStream(conn, REGISTRY_PROTOCOL, { signal }, (l) => this.ctx.log(l))
    const framed: FramedStream<RegistryMessage> = new FramedStream(stream, codec, {
      onMessage: (m) => this.onRegistryMessage(r, m),
      onClose: (err) => {
        if (r.registry !== framed) return
        r.registry = undefined
        r.registered = false
        if (err) this.ctx.log(`relay ${r.id}: registry stream failed: ${err.message}`)
        // a registry stream lost on a live connection: start over on a fresh connection
        if (!this.ctx.isStopped() && r.connected) this.hangUp(r)
      },
    })
    r.registry = framed
    r.fresh = new Set()
    const announcement = this.announcement()
    if (announcement) await framed.send(announcement)
    await framed.send({ type: 'subscribe' })
    // peers listed before a restart and not listed again after it are gone
    clearTimeout(r.pruneTimer)
    r.pruneTimer = setTimeout(() => {
      for (const id of [...r.members]) if (!r.fresh.has(id)) this.removeMember(r, id)
    }, 3000)
  }

  /** This peer's announcement, or undefined if the owner's callbacks failed (logged; the next one may work). */
  private announcement(): RegistryMessage | undefined {
    try {
      return {
        type: 'announce',
        addrs: this.ctx.libp2p.getMultiaddrs().map(String).slice(0, 32),
        caps: this.ctx.init.capabilities(),
        load: this.ctx.init.load?.() ?? { running: 0, queued: 0 },
      }
    } catch (err) {
      this.ctx.log(`announce: ${(err as Error).message}`)
      return undefined
    }
  }

  private onRegistryMessage(r: RelayState, m: RegistryMessage): void {
    switch (m.type) {
      case 'join':
      case 'update': {
        if (m.peer.id === this.ctx.peerId) {
          r.registered = true
          return
        }
        // a relay must not make us treat another configured relay as a mesh peer
        if (this.ctx.relayIds.has(m.peer.id)) return
        r.members.add(m.peer.id)
        r.fresh.add(m.peer.id)
        const isNew = this.ctx.directory.set(m.peer)
        this.ctx.dispatch(isNew ? 'peer:join' : 'peer:update', m.peer)
        this.ctx.scheduleReconcile()
        return
      }
      case 'leave':
        if (m.id !== this.ctx.peerId) this.removeMember(r, m.id)
        return
      case 'error':
        this.ctx.log(`relay ${r.id}: registry error ${m.code}: ${m.message}`)
        return
      default:
        return
    }
  }

  private removeMember(r: RelayState, id: string): void {
    r.members.delete(id)
    if (this.relays.some((x) => x.members.has(id))) return
    if (!this.ctx.directory.delete(id)) return
    this.ctx.rtt.delete(id)
    this.ctx.dispatch('peer:leave', { id })
    this.ctx.scheduleReconcile()
  }
}
