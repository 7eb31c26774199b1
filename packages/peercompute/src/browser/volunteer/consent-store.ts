/** A visitor's remembered answer. */
export interface ConsentRecord {
  granted: boolean
  /** When it stops counting (ms since the epoch). */
  expires: number
}

const KEY = 'peercompute.volunteer.consent'
const DAY = 86_400_000

/**
 * The visitor's answer, kept in localStorage for a bounded time (per origin,
 * as storage is). A missing, expired or unreadable record means "ask".
 */
export class ConsentStore {
  private readonly storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | undefined
  private readonly rememberDays: number
  private readonly now: () => number

  constructor(
    storage: Pick<Storage, 'getItem' | 'setItem' | 'removeItem'> | undefined,
    rememberDays = 30,
    now: () => number = Date.now,
  ) {
    this.storage = storage
    this.rememberDays = rememberDays
    this.now = now
  }

  /** The stored answer if it is still valid. */
  read(): boolean | undefined {
    try {
      const raw = this.storage?.getItem(KEY)
      if (!raw || raw.length > 200) return undefined
      const r = JSON.parse(raw) as Partial<ConsentRecord>
      if (typeof r.granted !== 'boolean' || typeof r.expires !== 'number' || r.expires <= this.now()) {
        this.storage?.removeItem(KEY)
        return undefined
      }
      return r.granted
    } catch {
      return undefined // storage disabled or a damaged record: ask again
    }
  }

  /** Remembers an answer for `rememberDays`. */
  write(granted: boolean): void {
    const r: ConsentRecord = { granted, expires: this.now() + this.rememberDays * DAY }
    try {
      this.storage?.setItem(KEY, JSON.stringify(r))
    } catch {
      // storage full or disabled: the answer holds for this page only
    }
  }

  /** Withdraws consent: remembered as a refusal, so the banner does not come back at once. */
  withdraw(): void {
    this.write(false)
  }

  /** Forgets the answer (the banner asks again). */
  clear(): void {
    try {
      this.storage?.removeItem(KEY)
    } catch {
      // nothing stored
    }
  }
}
