import { KernelNotFoundError, PayloadTooLargeError, RateLimitedError } from '../../../errors.js'
import type { TaskRequestHeader } from '../../../wire/task.js'
import type { TaskLimits } from './limits.js'
import { TokenBuckets } from './token-buckets.js'

/** What the ledger holds right now, for stats. */
export interface LedgerStats {
  /** Tasks admitted (receiving input, waiting or running), all peers. */
  admitted: number
  /** The most tasks admitted at once since the executor started. */
  peakAdmitted: number
  /** Input and output bytes held, all peers. */
  bytesHeld: number
  /** The most bytes held at once since the executor started. */
  peakBytesHeld: number
  /** Task streams open, all peers. */
  streams: number
  /** The most task streams open at once since the executor started. */
  peakStreams: number
  /** Peers whose task streams are reset on sight. */
  cutOff: number
}

interface PeerUse {
  tasks: number
  declared: number
  streams: number
}

/**
 * One admitted task's hold on the budgets, from its request until `release()`.
 * Bytes are held as they are allocated (never on a peer's word alone), within
 * the task's declared size and the node-wide budget.
 */
export interface Admission {
  /** Bytes this task holds now. */
  readonly held: number
  /** Grows the hold to `bytes`; false (nothing changed) when the node-wide budget would be passed. */
  grow(bytes: number): boolean
  /** Sets the hold to `bytes` whatever the budget (an output that exists already must be sent or dropped). */
  set(bytes: number): void
  /** Gives back the task's slot, its declared bytes and what it holds; later calls do nothing. */
  release(): void
}

/**
 * Admission and budgets of the executor, per peer and node-wide: who may open
 * a stream, which requests are admitted, how many bytes are held, and which
 * peers ran out of refusals and are cut off. Every check is O(1); per-peer
 * entries exist only while the peer holds something, so the maps stay bounded
 * by the node-wide limits.
 */
export class AdmissionLedger {
  private readonly limits: TaskLimits
  private readonly now: () => number
  private readonly peers = new Map<string, PeerUse>()
  private readonly requests: TokenBuckets
  private readonly refusals: TokenBuckets
  private readonly cutOffUntil = new Map<string, number>()
  private admitted = 0
  private peakAdmitted = 0
  private bytesHeld = 0
  private peak = 0
  private streams = 0
  private peakStreams = 0

  constructor(limits: TaskLimits, now: () => number = Date.now) {
    this.limits = limits
    this.now = now
    this.requests = new TokenBuckets(limits.requestsPerSecondPerPeer, { now })
    this.refusals = new TokenBuckets(limits.refusalsPerSecondPerPeer, { burst: limits.refusalBurstPerPeer, now })
  }

  /** Counts a stream from `peer`; an error says why it must be reset instead. */
  openStream(peer: string): Error | undefined {
    if (this.isCutOff(peer)) return new RateLimitedError('this peer is cut off for now')
    if (this.streams >= this.limits.maxStreams)
      return new RateLimitedError(`more than ${this.limits.maxStreams} task streams here`)
    const use = this.use(peer)
    if (use.streams >= this.limits.maxStreamsPerPeer) {
      this.forget(peer, use)
      return new RateLimitedError(`more than ${this.limits.maxStreamsPerPeer} task streams from one peer`)
    }
    use.streams++
    this.streams++
    if (this.streams > this.peakStreams) this.peakStreams = this.streams
    return undefined
  }

  /** Gives back a stream counted by `openStream`. */
  closeStream(peer: string): void {
    const use = this.peers.get(peer)
    if (!use || use.streams === 0) return
    use.streams--
    this.streams--
    this.forget(peer, use)
  }

  /**
   * Admits a request from `peer`, or says why not. Checked in this order, each
   * O(1): rate, kernel, size, the peer's tasks, all tasks, the peer's
   * declared bytes, the bytes held node-wide. Nothing is allocated here.
   */
  admit(peer: string, h: TaskRequestHeader, hasKernel: (name: string) => boolean): Admission | Error {
    const L = this.limits
    if (!this.requests.take(peer))
      return new RateLimitedError(`more than ${L.requestsPerSecondPerPeer} requests per second`)
    if (!hasKernel(h.kernel)) return new KernelNotFoundError(`no kernel named "${h.kernel}" here`)
    if (h.source.length > L.maxInputBytes)
      return new PayloadTooLargeError(`input of ${h.source.length} bytes exceeds ${L.maxInputBytes}`)
    const use = this.use(peer)
    const declared = h.source.kind === 'inline' ? h.source.length : 0
    const refusal =
      use.tasks >= L.maxInflightPerPeer
        ? new RateLimitedError(`more than ${L.maxInflightPerPeer} tasks in flight`)
        : this.admitted >= L.maxTasks
          ? new RateLimitedError(`this executor has ${L.maxTasks} tasks in flight; try later`)
          : use.declared + declared > L.maxBufferedBytesPerPeer
            ? new RateLimitedError(
                `${use.declared + declared} input bytes in flight exceed ${L.maxBufferedBytesPerPeer}`,
              )
            : this.bytesHeld + declared > L.maxBytesHeld
              ? new RateLimitedError('this executor holds too many input bytes for now; try later')
              : undefined
    if (refusal) {
      this.forget(peer, use)
      return refusal
    }
    use.tasks++
    use.declared += declared
    this.admitted++
    if (this.admitted > this.peakAdmitted) this.peakAdmitted = this.admitted
    return this.admission(peer, use, declared)
  }

  /** Takes one refusal from `peer`'s allowance; false when it has none left (cut it off). */
  takeRefusal(peer: string): boolean {
    return this.refusals.take(peer)
  }

  /** Resets `peer`'s streams on sight for `cutOffMs`. */
  cutOff(peer: string): void {
    const now = this.now()
    if (this.cutOffUntil.size >= 4096) {
      for (const [p, until] of this.cutOffUntil) if (until <= now) this.cutOffUntil.delete(p)
      // still full: the oldest entries go first (a Map keeps insertion order)
      for (const p of this.cutOffUntil.keys()) {
        if (this.cutOffUntil.size < 4096) break
        this.cutOffUntil.delete(p)
      }
    }
    this.cutOffUntil.delete(peer)
    this.cutOffUntil.set(peer, now + this.limits.cutOffMs)
  }

  /** True while `peer` is cut off. */
  isCutOff(peer: string): boolean {
    const until = this.cutOffUntil.get(peer)
    if (until === undefined) return false
    if (until > this.now()) return true
    this.cutOffUntil.delete(peer)
    return false
  }

  /** What is held now. */
  stats(): LedgerStats {
    return {
      admitted: this.admitted,
      peakAdmitted: this.peakAdmitted,
      bytesHeld: this.bytesHeld,
      peakBytesHeld: this.peak,
      streams: this.streams,
      peakStreams: this.peakStreams,
      cutOff: this.cutOffUntil.size,
    }
  }

  private admission(peer: string, use: PeerUse, declared: number): Admission {
    let held = 0
    let released = false
    const ledger = this
    const change = (bytes: number) => {
      ledger.bytesHeld += bytes - held
      held = bytes
      if (ledger.bytesHeld > ledger.peak) ledger.peak = ledger.bytesHeld
    }
    return {
      get held() {
        return held
      },
      grow(bytes) {
        if (released) return false
        if (bytes > held && ledger.bytesHeld + bytes - held > ledger.limits.maxBytesHeld) return false
        change(bytes)
        return true
      },
      set(bytes) {
        if (!released) change(bytes)
      },
      release() {
        if (released) return
        change(0)
        released = true
        use.tasks--
        use.declared -= declared
        ledger.admitted--
        ledger.forget(peer, use)
      },
    }
  }

  private use(peer: string): PeerUse {
    let use = this.peers.get(peer)
    if (!use) {
      use = { tasks: 0, declared: 0, streams: 0 }
      this.peers.set(peer, use)
    }
    return use
  }

  /** Drops `peer`'s entry once it holds nothing. */
  private forget(peer: string, use: PeerUse): void {
    if (use.tasks === 0 && use.streams === 0 && use.declared === 0 && this.peers.get(peer) === use)
      this.peers.delete(peer)
  }
}
