import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Redis } from './queue.js'

// Which bridges are alive. A running bridge holds a lease key,
// packetfs:bridges:<id>, renewed well before it expires. It gives two things:
// two running bridges never share an id (the second waits for the lease), and
// the processing list of a bridge whose lease is gone (killed, never restarted)
// can be moved back to the queue by any other bridge.

/** The lease key of a bridge id. */
export function leaseKey(bridgeId: string): string {
  return `packetfs:bridges:${bridgeId}`
}

/** Renews the lease only if this instance still holds it. */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`

/** Releases the lease only if this instance still holds it. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`

/**
 * Moves up to ARGV[1] items of a processing list back to the front of the
 * queue, only if its bridge's lease is gone; atomic, so a bridge that takes
 * the lease meanwhile never loses items it already holds. A list left empty
 * unregisters its bridge id (ARGV[2]).
 */
const RECLAIM = `
if redis.call('EXISTS', KEYS[1]) == 1 then return -1 end
local n = 0
while n < tonumber(ARGV[1]) and redis.call('LMOVE', KEYS[2], KEYS[3], 'LEFT', 'RIGHT') do n = n + 1 end
if redis.call('LLEN', KEYS[2]) == 0 then redis.call('SREM', KEYS[4], ARGV[2]) end
return n`

/** One bridge's lease on its id. */
export class BridgeLease {
  readonly key: string
  private readonly token = randomBytes(12).toString('hex')
  private readonly client: Redis
  private readonly bridgeId: string
  private readonly ms: number
  private timer?: ReturnType<typeof setInterval>

  constructor(client: Redis, bridgeId: string, ms: number) {
    this.client = client
    this.bridgeId = bridgeId
    this.key = leaseKey(bridgeId)
    this.ms = ms
  }

  /**
   * Takes the lease, waiting while another running bridge holds it (or the
   * lease of a killed previous run has not yet expired); `onWait` is told once.
   */
  async acquire(signal: AbortSignal, onWait?: (ttlMs: number) => void): Promise<void> {
    for (let told = false; ; told = true) {
      signal.throwIfAborted()
      const ok = await this.client.set(this.key, this.token, {
        expiration: { type: 'PX', value: this.ms },
        condition: 'NX',
      })
      if (ok !== null) break
      if (!told) onWait?.(Number(await this.client.pTTL(this.key)))
      await sleep(Math.min(500, this.ms / 4), undefined, { signal })
    }
    await this.client.sAdd(BRIDGES_KEY, this.bridgeId)
  }

  /** Renews every third of the lease; `onLost` hears when it was lost (a stall past the lease: it is taken again). */
  keep(onLost: (err?: Error) => void): void {
    this.timer = setInterval(() => {
      this.client
        .eval(RENEW, { keys: [this.key], arguments: [this.token, String(this.ms)] })
        .then(async (r) => {
          if (Number(r) === 1) return
          onLost()
          await this.client.set(this.key, this.token, { expiration: { type: 'PX', value: this.ms }, condition: 'NX' })
        })
        .catch((err: Error) => onLost(err))
    }, this.ms / 3)
    this.timer.unref()
  }

  /** Stops renewing (the lease then lapses by itself). */
  stopKeeping(): void {
    clearInterval(this.timer)
  }

  /** Stops renewing and deletes the lease if this instance still holds it. */
  async release(): Promise<void> {
    this.stopKeeping()
    await this.client.eval(RELEASE, { keys: [this.key], arguments: [this.token] })
  }
}

/** The set of bridge ids that have run on this Redis (the ones whose processing lists a sweep looks at). */
export const BRIDGES_KEY = 'packetfs:bridges'

/** A bridge id as the bridge accepts it (ids read back from Redis are checked again). */
export const BRIDGE_ID = /^[\w.:-]{1,64}$/

/**
 * Moves back to the queue the items of other bridges' processing lists whose
 * bridges hold no lease (killed and not restarted). Looks at up to `maxLists`
 * registered bridges (a random sample) and `maxItems` items per list per
 * call; a bridge id that has no lease and nothing left is unregistered.
 * Returns the bridge ids reclaimed from and how many items moved.
 */
export async function reclaimOrphans(
  client: Redis,
  o: { queue: string; processing: (bridgeId: string) => string; self: string; maxLists?: number; maxItems?: number },
): Promise<Array<{ bridgeId: string; moved: number }>> {
  const ids = (await client.sRandMemberCount(BRIDGES_KEY, o.maxLists ?? 100)) as string[]
  const out: Array<{ bridgeId: string; moved: number }> = []
  for (const bridgeId of ids) {
    if (bridgeId === o.self) continue
    if (!BRIDGE_ID.test(bridgeId)) {
      await client.sRem(BRIDGES_KEY, bridgeId)
      continue
    }
    let moved: number
    try {
      moved = Number(
        await client.eval(RECLAIM, {
          keys: [leaseKey(bridgeId), o.processing(bridgeId), o.queue, BRIDGES_KEY],
          arguments: [String(o.maxItems ?? 1000), bridgeId],
        }),
      )
    } catch (err) {
      // not a list (WRONGTYPE): not a processing list this code made; leave it, and go on with the others
      if (!/WRONGTYPE/.test((err as Error).message)) throw err
      await client.sRem(BRIDGES_KEY, bridgeId)
      continue
    }
    if (moved > 0) out.push({ bridgeId, moved })
  }
  return out
}
