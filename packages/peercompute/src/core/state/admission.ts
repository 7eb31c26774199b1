import { Allowance, type StateLimits } from './limits.js'
import type { Session } from './types.js'

/** Past the node-wide bound, a peer using less than this share of its own allowance is not cut off. */
const SHED_FLOOR = 0.25

/**
 * What peers may send a StateManager: each peer's allowance (kept by peer id,
 * so a new stream does not refill it), the node's allowance for all peers
 * together, and the bytes held in half-reassembled messages. Whoever passes a
 * bound is cut off through `cut`.
 */
export class Admission {
  /** Bytes held in half-reassembled messages, all peers together. */
  held = 0
  private readonly limits: StateLimits
  private readonly sessions: ReadonlySet<Session>
  private readonly cut: (s: Session, reason: string) => void
  private readonly node: Allowance
  private readonly peers = new Map<string, Allowance>()

  constructor(limits: StateLimits, sessions: ReadonlySet<Session>, cut: (s: Session, reason: string) => void) {
    const l = limits
    this.limits = l
    this.sessions = sessions
    this.cut = cut
    this.node = new Allowance(l.nodeBytesPerSecond, l.nodeBytesBurst, l.nodeMessagesPerSecond, l.nodeMessagesBurst)
  }

  /**
   * `peer`'s allowance. Allowances of peers gone and refilled are forgotten;
   * at most 2 × `maxSessions` are kept (then the oldest of peers not linked go).
   */
  allowanceOf(peer: string): Allowance {
    const l = this.limits
    let a = this.peers.get(peer)
    if (a) return a
    if (this.peers.size >= 2 * l.maxSessions) {
      const linked = new Set([...this.sessions].map((x) => x.link.remotePeer))
      for (const [p, x] of this.peers) if (!linked.has(p) && x.used() <= 0) this.peers.delete(p)
      for (const p of this.peers.keys()) {
        if (this.peers.size < 2 * l.maxSessions) break
        if (!linked.has(p)) this.peers.delete(p)
      }
    }
    a = new Allowance(l.peerBytesPerSecond, l.peerBytesBurst, l.peerMessagesPerSecond, l.peerMessagesBurst)
    this.peers.set(peer, a)
    return a
  }

  /**
   * Charges `s` and the node for what just arrived; false when `s` was cut off
   * for it. Past the node-wide bound, the peer using most of its own allowance
   * is cut off, if it uses at least a quarter of it (a quiet peer is never cut
   * for what others send; sessions are bounded by `maxSessions`).
   */
  charge(s: Session, bucket: 'bytes' | 'messages', n: number): boolean {
    if (!s.allowance[bucket].take(n)) {
      const l = this.limits
      const rate = bucket === 'bytes' ? `${l.peerBytesPerSecond} bytes/s` : `${l.peerMessagesPerSecond} messages/s`
      this.cut(s, `over its state allowance (${rate})`)
      return false
    }
    if (this.node[bucket].take(n)) return true
    const top = this.heaviest((x) => x.allowance.used())
    if (top && top.allowance.used() >= SHED_FLOOR)
      this.cut(top, `node-wide state ${bucket} budget exhausted; this peer sends most`)
    return this.sessions.has(s)
  }

  /**
   * Counts `delta` more bytes held by `s` half-reassembled; past the
   * node-wide bound the peer holding most is cut off. False when that is `s`.
   */
  reassembling(s: Session, delta: number): boolean {
    this.held += delta
    if (this.held > this.limits.nodeReassemblyBytes) {
      const top = this.heaviest((x) => x.assembler.buffered)
      if (top) this.cut(top, 'node-wide reassembly budget exhausted; this peer holds most')
    }
    return this.sessions.has(s)
  }

  private heaviest(weight: (s: Session) => number): Session | undefined {
    let top: Session | undefined
    let w = -Infinity
    for (const s of this.sessions) {
      const x = weight(s)
      if (x > w) [top, w] = [s, x]
    }
    return top
  }
}
