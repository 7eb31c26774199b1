// Leader election between the tabs of one origin with Web Locks: the tab that
// holds the exclusive lock leads, for as long as it holds it. The browser
// releases a lock when its tab closes, crashes or navigates away, and grants it
// to the next waiting tab at once: no heartbeats or timeouts to tune.
import { AbortError, TabCoordinationUnavailableError } from '../../../core/errors.js'

/** A lock this tab holds until `release()` (or until the tab goes away). */
export interface Leadership {
  release(): void
}

/** Options of {@link acquireLeadership}. */
export interface AcquireLeadershipOptions {
  /** Stops waiting for the lock (the promise rejects with `AbortError`). */
  signal?: AbortSignal
  /** Called once if another tab holds the lock now: this tab follows until it is granted. */
  onWaiting?: () => void
}

/** `navigator.locks`, or a typed error where the page has none (an insecure context, an old browser). */
export function webLocks(): LockManager {
  const locks = (globalThis.navigator as Navigator | undefined)?.locks
  if (!locks) {
    throw new TabCoordinationUnavailableError(
      'Web Locks (navigator.locks) are unavailable: is the page served over https?',
    )
  }
  return locks
}

/**
 * Resolves once this tab holds the exclusive Web Lock `name`, which it keeps
 * until `release()`. Asks without waiting first, so that a tab that must
 * follow learns it at once (`onWaiting`), then queues for the lock.
 */
export async function acquireLeadership(name: string, options: AcquireLeadershipOptions = {}): Promise<Leadership> {
  const locks = webLocks()
  const { signal } = options
  if (signal?.aborted) throw new AbortError('leader election was aborted')
  let release!: () => void
  const held = new Promise<void>((resolve) => {
    release = resolve
  })
  const leadership: Leadership = { release: () => release() }
  const got = await new Promise<boolean>((resolve, reject) => {
    locks
      .request(name, { mode: 'exclusive', ifAvailable: true }, async (lock) => {
        resolve(lock !== null)
        if (lock) await held
      })
      .catch(reject)
  })
  if (got) return leadership
  options.onWaiting?.()
  await new Promise<void>((resolve, reject) => {
    locks
      .request(name, { mode: 'exclusive', ...(signal ? { signal } : {}) }, async () => {
        resolve()
        await held
      })
      .catch((err: unknown) => {
        reject((err as Error | undefined)?.name === 'AbortError' ? new AbortError('leader election was aborted') : err)
      })
  })
  return leadership
}
