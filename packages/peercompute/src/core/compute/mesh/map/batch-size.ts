import type { Candidate } from '../policies.js'

// How many items the next batch takes: enough that running it takes a few
// round trips, so the round trip is not what the job waits on.

/** A batch aims to take this many round trips to run. */
export const RTT_MULTIPLE = 4
/** The first batch's items, before anything is measured. */
export const FIRST_BATCH_ITEMS = 16
/** Most items in a batch sized automatically. */
export const MAX_AUTO_ITEMS = 4096
/** The round trip assumed where none is known (this node, or a peer not yet pinged), ms. */
const DEFAULT_RTT_MS = 1
/** A batch grows by at most this factor from one to the next (a first measurement may be noise). */
const MAX_GROWTH = 4

/** The median round trip to the remote candidates, ms (DEFAULT_RTT_MS where none is known). */
export function medianRttMs(candidates: Candidate[]): number {
  const rtts = candidates
    .filter((c) => !c.local && c.rttMs !== undefined)
    .map((c) => c.rttMs as number)
    .sort((a, b) => a - b)
  return rtts.length ? Math.max(rtts[rtts.length >> 1], 0.05) : DEFAULT_RTT_MS
}

/** Items of the next batch: `fixed` if given, else from the measured ms per item and the round trip. */
export function nextBatchItems(o: { fixed?: number; msPerItem?: number; rttMs: number; last?: number }): number {
  if (o.fixed) return o.fixed
  if (o.msPerItem === undefined) return FIRST_BATCH_ITEMS
  const want = Math.ceil((RTT_MULTIPLE * o.rttMs) / Math.max(o.msPerItem, 1e-6))
  const capped = Math.min(want, (o.last ?? FIRST_BATCH_ITEMS) * MAX_GROWTH, MAX_AUTO_ITEMS)
  return Math.max(1, capped)
}

/** Batches a peer holds per slot: one runs while the next travels, so a slot does not wait on the network. */
export const MAP_PIPELINE = 2

/** Batches a map job keeps running at once: MAP_PIPELINE per slot of the candidates, within 2..64. */
export function batchWindow(candidates: Candidate[]): number {
  const slots = candidates.reduce((n, c) => n + c.slots, 0)
  return Math.max(2, Math.min(64, slots * MAP_PIPELINE))
}
