/**
 * What one peer, and all peers together, may send a StateManager. A peer over
 * its bounds is cut off (`state:refused`); when all peers together pass the
 * node-wide bounds, the peer using most of its own allowance is cut off, so new
 * peer ids buy nothing. Bytes are counted per frame as it arrives (before
 * reassembly), messages per complete message.
 */
export interface StateLimits {
  /** Largest message (sync or awareness) from a peer, bytes; also what one peer may hold half-reassembled. */
  maxMessageBytes: number
  /** Largest awareness message, bytes. */
  maxAwarenessBytes: number
  /** Largest presence (one awareness state, as JSON), bytes. */
  maxPresenceBytes: number
  /** Per peer: sustained bytes per second, and the burst above it. */
  peerBytesPerSecond: number
  peerBytesBurst: number
  /** Per peer: sustained messages per second, and the burst above it. */
  peerMessagesPerSecond: number
  peerMessagesBurst: number
  /** All peers together: bytes per second, and the burst. */
  nodeBytesPerSecond: number
  nodeBytesBurst: number
  /** All peers together: messages per second, and the burst. */
  nodeMessagesPerSecond: number
  nodeMessagesBurst: number
  /** All peers together: bytes held in half-reassembled messages. */
  nodeReassemblyBytes: number
  /** Peers linked at once; more are refused. */
  maxSessions: number
  /**
   * Bytes a room's document may take in from peers (what their updates added
   * to it, and what was loaded from storage; not what they sent: a copy of what
   * the document holds adds nothing). Updates waiting for ones they depend on
   * count as taken (the one they wait for releases them all at once). Once
   * past it, an update that would add to the document is refused and its sender
   * cut off; the document can pass it by one message at most. Deletions are
   * still taken.
   */
  maxDocBytes: number
  /**
   * Bytes of updates a room's document holds waiting for others they depend
   * on (Yjs keeps them until those arrive, which may be never). Past it they
   * are dropped (what is real comes back with the next sync) and the peer whose
   * update passed it is cut off.
   */
  maxPendingBytes: number
}

/** The defaults: room for an 8 MiB document sync at join and steady editing, far below what hurts a node. */
export const DEFAULT_STATE_LIMITS: Readonly<StateLimits> = Object.freeze({
  maxMessageBytes: 8 << 20,
  maxAwarenessBytes: 64 << 10,
  maxPresenceBytes: 16 << 10,
  peerBytesPerSecond: 2 << 20,
  peerBytesBurst: 16 << 20,
  peerMessagesPerSecond: 1000,
  peerMessagesBurst: 5000,
  nodeBytesPerSecond: 16 << 20,
  nodeBytesBurst: 64 << 20,
  nodeMessagesPerSecond: 10_000,
  nodeMessagesBurst: 50_000,
  nodeReassemblyBytes: 64 << 20,
  maxSessions: 256,
  maxDocBytes: 64 << 20,
  maxPendingBytes: 16 << 20,
})

/** Counted per frame on top of its bytes: what handling a frame costs beyond them. */
export const FRAME_COST = 64

/** A token bucket: `take(n)` succeeds while the tokens last; they refill at `rate` per second up to `burst`. */
export class TokenBucket {
  private readonly rate: number
  private readonly burst: number
  private readonly now: () => number
  private tokens: number
  private at: number

  constructor(rate: number, burst: number, now: () => number = () => performance.now()) {
    this.rate = rate
    this.burst = burst
    this.now = now
    this.tokens = burst
    this.at = now()
  }

  /** Takes `n` tokens; false (nothing taken) when there are fewer. */
  take(n: number): boolean {
    this.refill()
    if (this.tokens < n) return false
    this.tokens -= n
    return true
  }

  /** How much of the burst is in use, 0 (full bucket) to 1 (empty). */
  used(): number {
    this.refill()
    return 1 - this.tokens / this.burst
  }

  private refill(): void {
    const t = this.now()
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.at) / 1000) * this.rate)
    this.at = t
  }
}

/** A peer's or the node's allowance: bytes and messages. */
export class Allowance {
  readonly bytes: TokenBucket
  readonly messages: TokenBucket

  constructor(bytesPerSecond: number, bytesBurst: number, messagesPerSecond: number, messagesBurst: number) {
    this.bytes = new TokenBucket(bytesPerSecond, bytesBurst)
    this.messages = new TokenBucket(messagesPerSecond, messagesBurst)
  }

  /** How much of its burst the busier bucket uses. */
  used(): number {
    return Math.max(this.bytes.used(), this.messages.used())
  }
}

/** The limits with `overrides` applied; a value that is not a positive number is a RangeError. */
export function stateLimits(overrides: Partial<StateLimits> = {}): StateLimits {
  const out = { ...DEFAULT_STATE_LIMITS }
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) continue
    if (!(k in DEFAULT_STATE_LIMITS)) throw new RangeError(`unknown state limit ${k}`)
    if (typeof v !== 'number' || !(v > 0)) throw new RangeError(`state limit ${k} must be a positive number`)
    out[k as keyof StateLimits] = v
  }
  return out
}
