import type { RedisClientType } from 'redis'

// The reliable queue: an item is BLMOVEd from the shared queue to this
// bridge's own processing list, and LREMed from there only once its result is
// written. A bridge that dies leaves its items in its processing list; when a
// bridge with the same id starts, it moves them back to the front of the
// shared queue, where this bridge or another one sharing the queue takes them.

/** A node-redis client of any module/script shape. */
// biome-ignore lint/suspicious/noExplicitAny: the bridge uses core commands only
export type Redis = RedisClientType<any, any, any, any, any>

/** The Redis keys of the queue contract. */
export interface QueueKeys {
  /** Producers LPUSH here (default `packetfs:jobs:queue`). */
  queue: string
  /** This bridge's in-flight items (`packetfs:jobs:processing:<bridge id>`). */
  processing: string
  /** Items that were not jobs at all (too large, no readable job id): a capped list of short records. */
  rejected: string
}

/** The default keys for a bridge id. */
export function queueKeys(bridgeId: string): QueueKeys {
  return {
    queue: 'packetfs:jobs:queue',
    processing: `packetfs:jobs:processing:${bridgeId}`,
    rejected: 'packetfs:jobs:rejected',
  }
}

/**
 * Drops the next item to be taken while it is larger than the bound, without
 * ever sending it to this process: it is popped inside Redis and a short
 * record of it (size, first 256 bytes) is pushed to the rejected list.
 */
const DROP_OVERSIZE = `
local v = redis.call('LINDEX', KEYS[1], -1)
if v and string.len(v) > tonumber(ARGV[1]) then
  redis.call('RPOP', KEYS[1])
  redis.call('LPUSH', KEYS[2], cjson.encode({ reason = 'too large', bytes = string.len(v), head = string.sub(v, 1, 256) }))
  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1)
  return string.len(v)
end
return 0`

/** Options of a ReliableQueue. */
export interface ReliableQueueInit {
  /** For commands that return at once. */
  client: Redis
  /** Its own connection: BLMOVE blocks it. */
  blocking: Redis
  keys: QueueKeys
  /** Largest item taken, bytes (larger ones are dropped inside Redis). */
  maxItemBytes: number
  /** Length the rejected list is trimmed to. */
  rejectedCap: number
  /** How long one BLMOVE waits, s (stop() does not wait for it: it closes the connection). */
  blockS?: number
}

/** The reliable queue of one bridge (see the file comment). */
export class ReliableQueue {
  readonly keys: QueueKeys
  private readonly init: ReliableQueueInit

  constructor(init: ReliableQueueInit) {
    this.init = init
    this.keys = init.keys
  }

  /**
   * Moves every item left in this bridge's processing list (a previous life
   * of the bridge died with them in flight) back to the front of the queue,
   * oldest first. Returns how many moved.
   */
  async recover(): Promise<number> {
    let n = 0
    // newest first off the processing list's head onto the queue's consuming end: the oldest ends up taken first
    while ((await this.init.client.lMove(this.keys.processing, this.keys.queue, 'LEFT', 'RIGHT')) !== null) n++
    return n
  }

  /**
   * Takes the next item into the processing list, waiting up to `blockS`;
   * undefined when none came. Items over `maxItemBytes` never reach this
   * process; one that slips past the check (another bridge took the item
   * checked meanwhile) comes back as `{ oversize }` and is already dropped.
   */
  async take(): Promise<string | { oversize: number } | undefined> {
    const { client, blocking, keys, maxItemBytes, rejectedCap } = this.init
    for (let i = 0; i < 100; i++) {
      const dropped = Number(
        await client.eval(DROP_OVERSIZE, {
          keys: [keys.queue, keys.rejected],
          arguments: [String(maxItemBytes), String(rejectedCap)],
        }),
      )
      if (dropped === 0) break
    }
    const item = await blocking.blMove(keys.queue, keys.processing, 'RIGHT', 'LEFT', this.init.blockS ?? 1)
    if (item === null) return undefined
    const s = String(item)
    const bytes = Buffer.byteLength(s)
    if (bytes > maxItemBytes) {
      await this.reject(s, { reason: 'too large', bytes, head: s.slice(0, 256) })
      return { oversize: bytes }
    }
    return s
  }

  /** Done with `item` (its result is written, or it could not be a job): removes it from the processing list. */
  async ack(item: string): Promise<void> {
    await this.init.client.lRem(this.keys.processing, 1, item)
  }

  /** Records an item that is not a job in the capped rejected list and removes it from the processing list. */
  async reject(item: string, record: Record<string, unknown>): Promise<void> {
    const { client, keys, rejectedCap } = this.init
    await client
      .multi()
      .lPush(keys.rejected, JSON.stringify({ ...record, at: new Date().toISOString() }))
      .lTrim(keys.rejected, 0, rejectedCap - 1)
      .lRem(keys.processing, 1, item)
      .exec()
  }

  /** Items in this bridge's processing list now. */
  async inFlight(): Promise<number> {
    return Number(await this.init.client.lLen(this.keys.processing))
  }
}
