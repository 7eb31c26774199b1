import * as Y from 'yjs'
import { PayloadTooLargeError, ProtocolError } from '../errors.js'
import { FROM_STORAGE } from './origins.js'
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

/** Options of persistState. */
export interface PersistStateOptions {
  /** Compact after this many stored updates (default 500). */
  compactEvery?: number
  log?: (line: string) => void
}

/**
 * Loads what `store` holds into `state.doc`, then stores every later update;
 * compacts after `compactEvery` stored updates. Returns a function that
 * flushes and detaches; it never rejects.
 *
 * A failing store loses nothing silently: an update that could not be written
 * stays in memory and goes out (merged with later ones) on the next write or at
 * detach; every failure is a `state:store-error` event on `state` (and a log
 * line). What is still unwritten at detach is counted in that event. A
 * snapshot too large for the store is not fatal: the log keeps growing by
 * appends instead. Stored updates that do not parse are skipped at load
 * (event and log line) and the ones before them are kept.
 */
export async function persistState(
  state: StateManager,
  store: StatePersistence,
  opts: PersistStateOptions = {},
): Promise<() => Promise<void>> {
  const report = (error: Error, unsaved: number) => {
    opts.log?.(`state ${state.room}: storage: ${error.message}${unsaved ? ` (${unsaved} updates not yet stored)` : ''}`)
    state.safeDispatchEvent('state:store-error', { detail: { error, unsaved } })
  }
  applyStored(state.doc, await store.load(), (err) => report(err, 0))
  const every = opts.compactEvery ?? 500
  let stored = 0
  const unsaved: Uint8Array[] = []
  let chain: Promise<void> = Promise.resolve()

  // one write at a time, in order: what is unsaved when it starts goes out as one update or one snapshot
  const flush = async () => {
    const n = unsaved.length
    if (n === 0) return
    try {
      if (stored + n >= every && (await compact(n))) return
      await append(n)
    } catch (err) {
      report(err as Error, unsaved.length)
    }
  }
  // the first `n` unsaved updates as one; merged ones too large for the store go one by one
  const append = async (n: number): Promise<void> => {
    try {
      await store.append(n === 1 ? unsaved[0] : Y.mergeUpdates(unsaved.slice(0, n)))
    } catch (err) {
      if (!(err instanceof PayloadTooLargeError)) throw err
      if (n > 1) {
        for (let i = 0; i < n; i++) await append(1)
        return
      }
      report(err, unsaved.length - 1) // one update larger than the store takes: it can never be stored
    }
    unsaved.splice(0, n)
    stored += n
  }
  const compact = async (n: number): Promise<boolean> => {
    try {
      await store.compact(Y.encodeStateAsUpdate(state.doc))
    } catch (err) {
      if (!(err instanceof PayloadTooLargeError)) throw err
      report(err, 0) // the document outgrew one snapshot: keep appending
      stored = 0
      return false
    }
    unsaved.splice(0, n) // later updates were not in the snapshot's document: still unsaved
    stored = 0
    return true
  }
  const onUpdate = (update: Uint8Array, origin: unknown) => {
    if (origin === FROM_STORAGE) return
    unsaved.push(update)
    chain = chain.then(flush)
  }
  state.doc.on('update', onUpdate)
  return async () => {
    state.doc.off('update', onUpdate)
    chain = chain.then(flush)
    await chain
    if (unsaved.length) report(new Error('closing with updates that could not be stored'), unsaved.length)
    await store.close().catch((err) => report(err as Error, 0))
  }
}

/** Applies stored updates: all at once when they parse, else one by one up to the first that does not. */
function applyStored(doc: Y.Doc, updates: Uint8Array[], report: (err: Error) => void): void {
  if (updates.length === 0) return
  try {
    Y.applyUpdate(doc, updates.length === 1 ? updates[0] : Y.mergeUpdates(updates), FROM_STORAGE)
    return
  } catch {
    // find the damaged one below
  }
  for (const [i, u] of updates.entries()) {
    try {
      Y.decodeUpdate(u)
      Y.applyUpdate(doc, u, FROM_STORAGE)
    } catch (err) {
      report(
        new ProtocolError(
          `stored update ${i + 1} of ${updates.length} is malformed (${(err as Error).message}); kept the ${i} before it`,
        ),
      )
      return
    }
  }
}
