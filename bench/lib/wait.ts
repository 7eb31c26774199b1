// Waiting in the benchmark scripts (they run outside vitest, so no waitFor).

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** Polls `cond` every 50 ms; throws `timed out waiting for WHAT` after `ms`. */
export async function until(what: string, cond: () => boolean, ms = 30_000): Promise<void> {
  const t0 = Date.now()
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}
