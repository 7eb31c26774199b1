import { decodeBatch, encodeValues, type MapValue } from './batch-codec.js'

/** A map batch task's params: the kernel each item runs, and that kernel's params. */
export interface MapBatchParams {
  kernel: string
  params?: unknown
}

/** Reads a batch task's params; TypeError when they do not name a kernel. */
export function mapBatchParams(p: unknown): MapBatchParams {
  const o = (p ?? {}) as Record<string, unknown>
  if (typeof o.kernel !== 'string' || o.kernel === '' || o.kernel === '@map')
    throw new TypeError('a map batch names the kernel its items run (params.kernel)')
  return { kernel: o.kernel, params: o.params }
}

/**
 * Runs a map batch where a kernel runs (in a pool worker): decodes the items,
 * runs `runItem` on each in order, and encodes the results in the same order.
 * An item's error fails the whole batch (the job decides what that means).
 */
export async function runBatch(
  input: unknown,
  runItem: (item: MapValue) => unknown,
  signal?: AbortSignal,
): Promise<Uint8Array> {
  if (!(input instanceof Uint8Array)) throw new TypeError('a map batch input must be bytes')
  const items = decodeBatch(input)
  // results go in place of their items: one array, a tight loop, a turn only for a kernel that returns a promise
  for (let i = 0; i < items.length; i++) {
    if (signal?.aborted) signal.throwIfAborted()
    let r = runItem(items[i])
    if (r instanceof Promise) r = await r
    items[i] = r instanceof Uint8Array ? r.slice() : r // xor/add write in place into the batch's bytes
  }
  return encodeValues(items)
}
