import * as Y from 'yjs'
import type { StateManager } from './state-manager.js'

/** Where a StateManager keeps its document between runs (`storageMode: 'local'`). */
export interface StatePersistence {
  /** Every stored update, oldest first. */
  load(): Promise<Uint8Array[]>
  /** Stores one more update. */
  append(update: Uint8Array): Promise<void>
  /** Replaces everything stored with one snapshot of the document. */
  compact(snapshot: Uint8Array): Promise<void>
  close(): Promise<void>
}

const FROM_STORAGE = Symbol('from storage')

/**
 * Loads what `store` holds into `state.doc`, then stores every later update;
 * compacts after `compactEvery` appended updates (default 500). Returns a
 * function that flushes and detaches.
 */
export async function persistState(
  state: StateManager,
  store: StatePersistence,
  opts: { compactEvery?: number } = {},
): Promise<() => Promise<void>> {
  const updates = await store.load()
  if (updates.length) Y.applyUpdate(state.doc, Y.mergeUpdates(updates), FROM_STORAGE)
  const every = opts.compactEvery ?? 500
  let appended = 0
  let chain: Promise<void> = Promise.resolve()
  const onUpdate = (update: Uint8Array, origin: unknown) => {
    if (origin === FROM_STORAGE) return
    // in order, one at a time; a compaction takes the place of the appends before it
    chain = chain.then(async () => {
      if (++appended >= every) {
        appended = 0
        await store.compact(Y.encodeStateAsUpdate(state.doc))
      } else {
        await store.append(update)
      }
    })
  }
  state.doc.on('update', onUpdate)
  return async () => {
    state.doc.off('update', onUpdate)
    await chain
    await store.close()
  }
}
