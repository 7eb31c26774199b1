import type { ChunkAssembler } from '../wire/chunks.js'
import type { Allowance, StateLimits } from './limits.js'
import type { StateMessage } from './messages.js'
import type { Presence } from './presence.js'

/** A connection to one peer that carries state frames (≤ 16 KiB each); the libp2p adapter or a test's in-memory pair. */
export interface StateLink {
  readonly remotePeer: string
  send(frame: Uint8Array): void
  onMessage(cb: (frame: Uint8Array) => void): void
  /** `reason` is set when the link itself found the peer at fault (broken framing). */
  onClose(cb: (reason?: string) => void): void
  /** Ends the link; with a `reason` the peer was cut off (a stream is reset rather than closed). */
  close(reason?: string): void
}

/** Who may share the room's document. Without either, the room is open. */
export interface Membership {
  /** Peers prove they know it (HMAC-SHA256 over the room and both peer ids). */
  secret?: string
  /** Peer ids that may join. */
  allow?: string[]
}

/** Options of a StateManager. */
export interface StateManagerInit {
  room: string
  /** This peer's id (libp2p peer id). */
  selfId: string
  membership?: Membership
  /** Largest message (update or awareness) accepted from a peer, bytes (default 8 MiB); same as `limits.maxMessageBytes`. */
  maxMessageBytes?: number
  /** Per-peer and node-wide bounds on what peers send (defaults: `DEFAULT_STATE_LIMITS`). */
  limits?: Partial<StateLimits>
  /** A peer that has not sent a valid join this long after the link opened is cut off, ms (default 10,000). */
  joinTimeoutMs?: number
  log?: (line: string) => void
}

/** Events of a StateManager. */
export interface StateEvents {
  /** The document changed; `peer` is set when the change came from that peer. */
  'state:change': CustomEvent<{ peer?: string; bytes: number }>
  /** A peer was refused or cut off (not a member, malformed or oversized data). */
  'state:refused': CustomEvent<{ peer: string; reason: string }>
  /** A peer finished joining. */
  'state:peer': CustomEvent<{ peer: string }>
  /** Storing the document failed (see persistState); `unsaved` updates wait for the next write. */
  'state:store-error': CustomEvent<{ error: Error; unsaved: number }>
}

/** One linked peer, as the StateManager tracks it. */
export interface Session {
  link: StateLink
  verified: boolean
  assembler: ChunkAssembler
  /** Our join went out; until then everything else waits in `queued` (the peer refuses anything before a join). */
  joinSent: boolean
  queued: StateMessage[]
  /** The peer's join is being checked (async with a secret): what arrives meanwhile waits here, bounded. */
  checking?: StateMessage[]
  /** What this peer may still send. */
  allowance: Allowance
  /** Cuts the peer off if no valid join came in time. */
  joinTimer?: ReturnType<typeof setTimeout>
  /** The awareness client this peer speaks for (its first), and its validated presence. */
  clientID?: number
  presence?: Presence
}
