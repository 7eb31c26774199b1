/** Longest Idempotency-Key accepted (printable ASCII). */
export const MAX_IDEMPOTENCY_KEY_CHARS = 200

/** What a key maps to: the job it made and a hash of the body that made it. */
export interface IdempotencyEntry {
  jobId: string
  bodyHash: string
  expiresAt: number
}

/**
 * Idempotency-Key → job, for `ttlMs`, at most `max` keys: past that the
 * oldest key is forgotten (a retry after that makes a new job, as after the TTL).
 */
export class IdempotencyKeys {
  private readonly map = new Map<string, IdempotencyEntry>()
  private readonly ttlMs: number
  private readonly max: number
  constructor(ttlMs: number, max: number) {
    this.ttlMs = ttlMs
    this.max = max
  }

  /** Keys held now. */
  get size(): number {
    return this.map.size
  }

  /** True for a key the API takes: 1-200 printable ASCII characters. */
  static valid(key: string): boolean {
    return key.length >= 1 && key.length <= MAX_IDEMPOTENCY_KEY_CHARS && /^[\x21-\x7e]+$/.test(key)
  }

  /** The live entry of `key`, if any. */
  get(key: string, now = Date.now()): IdempotencyEntry | undefined {
    this.prune(now)
    return this.map.get(key)
  }

  /** Remembers `key` for a job (the newest key goes last: insertion order is expiry order). */
  set(key: string, jobId: string, bodyHash: string, now = Date.now()): void {
    this.prune(now)
    this.map.delete(key)
    this.map.set(key, { jobId, bodyHash, expiresAt: now + this.ttlMs })
    for (const old of this.map.keys()) {
      if (this.map.size <= this.max) break
      this.map.delete(old)
    }
  }

  private prune(now: number): void {
    for (const [k, e] of this.map) {
      if (e.expiresAt > now) break
      this.map.delete(k)
    }
  }
}
