import * as Y from 'yjs'
import { ProtocolError } from '../errors.js'

// What a room's document takes in, measured for its budgets (maxDocBytes, maxPendingBytes in StateLimits).

/** Yjs's `parseUpdateMeta` of `update`: per client, the clock its structs start from and end at. */
function meta(update: Uint8Array): { from: Map<number, number>; to: Map<number, number> } {
  try {
    return Y.parseUpdateMeta(update)
  } catch (err) {
    throw new ProtocolError(`malformed Yjs update: ${(err as Error).message}`)
  }
}

/** Whether `update` holds structs `doc` lacks (a copy of what it holds, or deletions only, add nothing). */
export function addsContent(doc: Y.Doc, update: Uint8Array): boolean {
  for (const [client, clock] of meta(update).to) if (clock > Y.getState(doc.store, client)) return true
  return false
}

/** Bytes of updates `doc` holds waiting for others they depend on (as Yjs keeps them, v2-encoded). */
export function pendingBytes(doc: Y.Doc): number {
  const { pendingStructs, pendingDs } = doc.store
  return (pendingStructs?.update.length ?? 0) + (pendingDs?.length ?? 0)
}

/** Drops what `doc` holds waiting (anything real in it comes back with the next sync). */
export function dropPending(doc: Y.Doc): void {
  doc.store.pendingStructs = null
  doc.store.pendingDs = null
}
