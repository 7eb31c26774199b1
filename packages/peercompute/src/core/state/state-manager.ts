import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import { TypedEventEmitter } from 'main-event'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import { ProtocolError } from '../errors.js'
import { ChunkAssembler, toChunks } from '../wire/chunks.js'
import { Admission } from './admission.js'
import { addsContent, dropPending, pendingBytes } from './doc-budget.js'
import { FRAME_COST, type StateLimits, stateLimits } from './limits.js'
import { joinProof, sameBytes } from './membership.js'
import { decodeStateMessage, encodeStateMessage, type StateMessage } from './messages.js'
import { FROM_STORAGE } from './origins.js'
import { checkAwareness, type Presence, parsePresence } from './presence.js'
import type { Session, StateEvents, StateLink, StateManagerInit } from './types.js'

export type { Membership, StateEvents, StateLink, StateManagerInit } from './types.js'

/** Messages held while a join is checked; more is a misbehaving peer. */
const MAX_HELD = 256

const MESSAGE_SYNC_STEP1 = 0
const MESSAGE_SYNC_STEP2 = 1
const MESSAGE_UPDATE = 2

/**
 * One Yjs document per mesh room, synced with every linked peer by the
 * y-protocols sync and awareness messages. Updates from non-members are refused
 * and never applied; a malformed or oversized message cuts off that peer only.
 */
export class StateManager extends TypedEventEmitter<StateEvents> {
  readonly doc: Y.Doc
  readonly awareness: awarenessProtocol.Awareness
  readonly room: string
  private readonly init: StateManagerInit
  private readonly sessions = new Set<Session>()
  private readonly versions = new Map<string, Uint8Array>()
  /** Local and relayed updates waiting for the end of this turn, by the session they came from (null: local). */
  private readonly outgoing = new Map<Session | null, Uint8Array[]>()
  private flushScheduled = false
  private stopped = false
  private readonly limits: StateLimits
  private readonly admission: Admission
  /** Bytes peers' updates (and storage) added to the document: what `maxDocBytes` bounds. */
  private fromPeers = 0

  constructor(init: StateManagerInit) {
    super()
    if (typeof init.room !== 'string' || init.room === '' || new TextEncoder().encode(init.room).length > 255) {
      throw new RangeError('room must be a non-empty name of at most 255 bytes')
    }
    this.init = init
    this.room = init.room
    this.limits = stateLimits({ maxMessageBytes: init.maxMessageBytes, ...init.limits })
    this.admission = new Admission(this.limits, this.sessions, (s, reason) => this.cut(s, reason))
    this.doc = new Y.Doc()
    this.awareness = new awarenessProtocol.Awareness(this.doc)
    this.doc.on('update', this.onDocUpdate)
    this.awareness.on('update', this.onAwarenessUpdate)
  }

  /** A named shared map. */
  map<T = unknown>(name: string): Y.Map<T> {
    return this.doc.getMap<T>(name)
  }

  /** A named shared array. */
  array<T = unknown>(name: string): Y.Array<T> {
    return this.doc.getArray<T>(name)
  }

  /** A named shared text. */
  text(name: string): Y.Text {
    return this.doc.getText(name)
  }

  /** The whole document as one Yjs update. */
  snapshot(): Uint8Array {
    return Y.encodeStateAsUpdate(this.doc)
  }

  /** Bytes the document took in from peers and from storage, counted against `maxDocBytes`. */
  get bytesFromPeers(): number {
    return this.fromPeers
  }

  /** Remembers the document as it is now under `name`. */
  saveVersion(name: string): void {
    this.versions.set(name, this.snapshot())
  }

  /** Names of saved versions, oldest first. */
  versionNames(): string[] {
    return [...this.versions.keys()]
  }

  /** A new document holding version `name`; the live document is not touched. */
  restoreVersion(name: string): Y.Doc {
    const v = this.versions.get(name)
    if (!v) throw new RangeError(`no version named ${JSON.stringify(name)}`)
    const d = new Y.Doc()
    Y.applyUpdate(d, v)
    return d
  }

  /** Sets this peer's presence (capabilities, load): carried to every peer by awareness. */
  setPresence(state: Record<string, unknown>): void {
    this.awareness.setLocalState({ peer: this.init.selfId, ...state })
  }

  /**
   * Presence by peer id: this peer's own, and that of each joined peer as it
   * sent it over its own session (never presence relayed by another peer), with
   * capabilities and load validated.
   */
  presence(): Map<string, Presence> {
    const out = new Map<string, Presence>()
    const own = this.awareness.getLocalState()
    if (own) out.set(this.init.selfId, { ...own, peer: this.init.selfId })
    const states = this.awareness.getStates()
    for (const s of this.sessions) {
      if (s.verified && s.presence && s.clientID !== undefined && states.has(s.clientID))
        out.set(s.link.remotePeer, s.presence)
    }
    return out
  }

  /** Peers joined right now. */
  peers(): string[] {
    return [...this.sessions].filter((s) => s.verified).map((s) => s.link.remotePeer)
  }

  /** Starts syncing with the peer at the other end of `link`; returns a function that ends it. */
  attach(link: StateLink): () => void {
    if (this.stopped) throw new Error('the state manager is stopped')
    const l = this.limits
    if (this.sessions.size >= l.maxSessions) {
      this.init.log?.(`state ${this.room}: ${link.remotePeer}: refused, ${l.maxSessions} peers linked already`)
      this.safeDispatchEvent('state:refused', { detail: { peer: link.remotePeer, reason: 'too many peers linked' } })
      link.close('too many peers linked')
      return () => {}
    }
    const session: Session = {
      link,
      verified: false,
      assembler: new ChunkAssembler(l.maxMessageBytes),
      joinSent: false,
      queued: [],
      allowance: this.admission.allowanceOf(link.remotePeer),
    }
    this.sessions.add(session)
    session.joinTimer = setTimeout(() => {
      if (!session.verified) this.cut(session, 'no valid join in time')
    }, this.init.joinTimeoutMs ?? 10_000)
    ;(session.joinTimer as { unref?: () => void }).unref?.()
    link.onMessage((frame) => this.onFrame(session, frame))
    link.onClose((reason) => (reason ? this.cut(session, reason) : this.drop(session)))
    this.proof(this.init.selfId, link.remotePeer)
      .then((proof) => {
        this.send(session, { kind: 'join', room: this.room, proof })
        session.joinSent = true
        for (const m of session.queued.splice(0)) this.send(session, m)
      })
      .catch((err) => this.cut(session, `could not send a join: ${(err as Error).message}`))
    return () => {
      this.drop(session)
      link.close()
    }
  }

  /** Ends every link; the document stays readable. */
  stop(): void {
    this.stopped = true
    for (const s of [...this.sessions]) {
      this.drop(s)
      s.link.close()
    }
    awarenessProtocol.removeAwarenessStates(this.awareness, [this.doc.clientID], 'local')
    this.awareness.destroy()
    this.doc.off('update', this.onDocUpdate)
  }

  private proof(from: string, to: string): Promise<Uint8Array> {
    return joinProof(this.init.membership?.secret, this.room, from, to)
  }

  private send(s: Session, m: StateMessage): void {
    if (!this.sessions.has(s)) return
    if (!s.joinSent && m.kind !== 'join') {
      s.queued.push(m)
      return
    }
    try {
      for (const frame of toChunks(encodeStateMessage(m))) s.link.send(frame)
    } catch (err) {
      this.cut(s, `send failed: ${(err as Error).message}`)
    }
  }

  private cut(s: Session, reason: string): void {
    if (!this.drop(s)) return
    this.init.log?.(`state ${this.room}: ${s.link.remotePeer}: ${reason}`)
    this.safeDispatchEvent('state:refused', { detail: { peer: s.link.remotePeer, reason } })
    s.link.close(reason)
  }

  /** Forgets a session: its half-reassembled message, its timer, and the presence it spoke for. */
  private drop(s: Session): boolean {
    if (!this.sessions.delete(s)) return false
    this.admission.held -= s.assembler.buffered
    clearTimeout(s.joinTimer)
    if (s.clientID !== undefined && !this.stopped)
      awarenessProtocol.removeAwarenessStates(this.awareness, [s.clientID], 'peer left')
    return true
  }

  private onFrame(s: Session, frame: Uint8Array): void {
    if (!this.sessions.has(s)) return
    if (!this.admission.charge(s, 'bytes', frame.length + FRAME_COST)) return
    const before = s.assembler.buffered
    let whole: Uint8Array | undefined
    try {
      whole = s.assembler.push(frame)
    } catch (err) {
      this.admission.held -= before // the assembler dropped the partial message
      this.cut(s, (err as Error).message)
      return
    }
    if (!this.admission.reassembling(s, s.assembler.buffered - before)) return
    if (!whole || !this.admission.charge(s, 'messages', 1)) return
    let msg: StateMessage
    try {
      msg = decodeStateMessage(whole)
      if (msg.kind === 'awareness' && msg.payload.length > this.limits.maxAwarenessBytes)
        throw new ProtocolError(`awareness message over ${this.limits.maxAwarenessBytes} bytes`)
    } catch (err) {
      this.cut(s, (err as Error).message)
      return
    }
    if (msg.kind === 'join') {
      this.onJoin(s, msg).catch((err) => this.cut(s, `join failed: ${(err as Error).message}`))
      return
    }
    if (!s.verified) {
      if (s.checking && s.checking.length < MAX_HELD) s.checking.push(msg)
      else this.cut(s, `${msg.kind} before a valid join: refused, not applied`)
      return
    }
    this.apply(s, msg)
  }

  private apply(s: Session, msg: Exclude<StateMessage, { kind: 'join' }>): void {
    try {
      if (msg.kind === 'sync') this.onSync(s, msg.payload)
      else this.onAwareness(s, msg.payload)
    } catch (err) {
      this.cut(s, err instanceof ProtocolError ? err.message : `malformed ${msg.kind}: ${(err as Error).message}`)
    }
  }

  private async onJoin(s: Session, m: Extract<StateMessage, { kind: 'join' }>): Promise<void> {
    const peer = s.link.remotePeer
    if (m.room !== this.room) return this.cut(s, `wrong room ${JSON.stringify(m.room)}`)
    const allow = this.init.membership?.allow
    if (allow && !allow.includes(peer)) return this.cut(s, 'not on the allow-list')
    if (s.verified || s.checking) return
    s.checking = []
    if (this.init.membership?.secret) {
      const want = await this.proof(peer, this.init.selfId)
      if (!sameBytes(want, m.proof)) return this.cut(s, 'wrong room secret')
    }
    if (!this.sessions.has(s)) return
    s.verified = true
    clearTimeout(s.joinTimer)
    const held = s.checking
    s.checking = undefined
    this.safeDispatchEvent('state:peer', { detail: { peer } })
    const e = encoding.createEncoder()
    syncProtocol.writeSyncStep1(e, this.doc)
    this.send(s, { kind: 'sync', payload: encoding.toUint8Array(e) })
    // only our own presence: each peer's travels over its own session, never relayed
    if (this.awareness.getLocalState() !== null)
      this.send(s, {
        kind: 'awareness',
        payload: awarenessProtocol.encodeAwarenessUpdate(this.awareness, [this.doc.clientID]),
      })
    for (const h of held) if (h.kind !== 'join' && this.sessions.has(s)) this.apply(s, h)
  }

  /**
   * A peer's awareness carries its own presence only: one client (the same for
   * the whole session, not ours, not another peer's), whose state names the
   * peer itself and holds valid capabilities and load. Anything else cuts it off.
   */
  private onAwareness(s: Session, payload: Uint8Array): void {
    const peer = s.link.remotePeer
    const others = new Set<number>([this.doc.clientID])
    for (const o of this.sessions) if (o !== s && o.clientID !== undefined) others.add(o.clientID)
    s.clientID = checkAwareness(payload, peer, s.clientID, others, this.limits.maxPresenceBytes)
    awarenessProtocol.applyAwarenessUpdate(this.awareness, payload, s)
    // what awareness kept (a stale clock is ignored), validated again: only values that passed reach presence()
    const state = s.clientID === undefined ? undefined : this.awareness.getStates().get(s.clientID)
    s.presence = state ? parsePresence(state, peer) : undefined
  }

  private onSync(s: Session, payload: Uint8Array): void {
    const d = decoding.createDecoder(payload)
    const type = decoding.readVarUint(d)
    if (type === MESSAGE_SYNC_STEP1) {
      const sv = decoding.readVarUint8Array(d)
      const e = encoding.createEncoder()
      syncProtocol.writeSyncStep2(e, this.doc, sv)
      this.send(s, { kind: 'sync', payload: encoding.toUint8Array(e) })
      return
    }
    if (type !== MESSAGE_SYNC_STEP2 && type !== MESSAGE_UPDATE)
      throw new ProtocolError(`unknown sync message type ${type}`)
    const update = decoding.readVarUint8Array(d)
    // what waits counts as taken: once released with the update that fills its gap, it all lands at once
    const taken = this.fromPeers + pendingBytes(this.doc)
    if (taken >= this.limits.maxDocBytes && addsContent(this.doc, update))
      throw new ProtocolError(
        `the room's document is full (${taken} bytes from peers, maxDocBytes ${this.limits.maxDocBytes}): an update that adds to it is refused`,
      )
    // dry runs before the real one: Yjs finds some faults only after it has integrated an update,
    // and a throw from there leaves the document changed and silent for good
    const dryRun = (pending: (Uint8Array | null | undefined)[] = []) => {
      const dry = new Y.Doc({ guid: 'dry-run' }) // a guid of its own: a random one costs more than the run
      for (const p of pending) if (p) Y.applyUpdateV2(dry, p) // Yjs keeps what waits v2-encoded
      Y.applyUpdate(dry, update)
    }
    try {
      Y.decodeUpdate(update)
      dryRun()
    } catch (err) {
      throw new ProtocolError(`malformed Yjs update: ${(err as Error).message}`)
    }
    const { pendingStructs, pendingDs } = this.doc.store
    if (pendingStructs || pendingDs) {
      try {
        dryRun([pendingStructs?.update, pendingDs])
      } catch (err) {
        // fine alone, faulty with what our document holds pending (structs waiting for others, deletions
        // of what it lacks, sent by some peer): drop that rather than refuse this peer or break the document;
        // anything real in it comes back with the next sync
        this.init.log?.(
          `state ${this.room}: dropped pending updates that fail with new ones: ${(err as Error).message}`,
        )
        dropPending(this.doc)
      }
    }
    Y.applyUpdate(this.doc, update, s)
    const waiting = pendingBytes(this.doc)
    if (waiting > this.limits.maxPendingBytes) {
      dropPending(this.doc)
      throw new ProtocolError(
        `updates waiting for ones they depend on passed maxPendingBytes (${waiting} > ${this.limits.maxPendingBytes}): dropped`,
      )
    }
  }

  private readonly onDocUpdate = (update: Uint8Array, origin: unknown) => {
    const from = this.sessions.has(origin as Session) ? (origin as Session) : undefined
    if (from || origin === FROM_STORAGE) this.fromPeers += update.length
    this.safeDispatchEvent('state:change', { detail: { peer: from?.link.remotePeer, bytes: update.length } })
    // updates made in one turn (a burst of small transactions) travel as one merged update
    const key = from ?? null
    const list = this.outgoing.get(key)
    if (list) list.push(update)
    else this.outgoing.set(key, [update])
    if (!this.flushScheduled) {
      this.flushScheduled = true
      queueMicrotask(() => this.flushUpdates())
    }
  }

  private flushUpdates(): void {
    this.flushScheduled = false
    const batches = [...this.outgoing]
    this.outgoing.clear()
    for (const [origin, updates] of batches) {
      const e = encoding.createEncoder()
      syncProtocol.writeUpdate(e, updates.length === 1 ? updates[0] : Y.mergeUpdates(updates))
      const payload = encoding.toUint8Array(e)
      for (const s of this.sessions) if (s.verified && s !== origin) this.send(s, { kind: 'sync', payload })
    }
  }

  private readonly onAwarenessUpdate = (
    { added, updated, removed }: { added: number[]; updated: number[]; removed: number[] },
    origin: unknown,
  ) => {
    // only our own client goes out: peers' presence is never relayed
    const own = this.doc.clientID
    if (origin !== 'local' || ![...added, ...updated, ...removed].includes(own)) return
    const payload = awarenessProtocol.encodeAwarenessUpdate(this.awareness, [own])
    for (const s of this.sessions) if (s.verified) this.send(s, { kind: 'awareness', payload })
  }
}
