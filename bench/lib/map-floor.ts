// The floor of a map job over libp2p, for bench:map: what any map of x + 1
// must do past a bare echo of its batches, and nothing more. The submitter
// encodes each batch from the input array and frames it; the executor hands
// it to a worker thread (traveling code runs off the main thread), which
// decodes it, adds 1 and encodes the results; the submitter decodes them and
// joins them in input order. No task header, deadline, budget, result check
// past the codec's, Job, failover or metrics: a floor to measure a map job
// against, not a protocol.
import { Worker } from 'node:worker_threads'
import type { Stream } from '@libp2p/interface'
import { decodeBatch, encodeFrame, encodeLeading, FrameDecoder, MAX_BATCH_BYTES, type NodeKernel } from 'peercompute'
import { pooled } from './measure.ts'

const PROTOCOL = '/peercompute/bench-map-floor/1.0.0'
/** A batch and its frame header. */
const MAX_FRAME = MAX_BATCH_BYTES + 16

/** Where a batch starts in the input, and its items. */
export interface Cut {
  first: number
  count: number
}

/** Throws unless `out` is `inputs` each plus 1 (`who` names the phase that got them). */
export function checkIncremented(out: unknown[], inputs: number[], who: string): void {
  if (out.length !== inputs.length || out.some((v, i) => v !== inputs[i] + 1))
    throw new Error(`bench:map: ${who} got wrong results`)
}

/** Serves the floor on `node` with one worker thread; resolves with a function that stops the worker. */
export async function serveFloor(node: NodeKernel): Promise<() => Promise<void>> {
  const worker = new Worker(new URL('./map-floor-worker.ts', import.meta.url))
  const replies = new Map<number, Stream>()
  let ids = 0
  worker.on('message', ({ id, out }: { id: number; out: Uint8Array }) => {
    const s = replies.get(id)
    replies.delete(id)
    if (s && !s.send(out)) void s.onDrain().catch(() => {})
  })
  await node.network.handle(PROTOCOL, (s) => {
    // a frame of its own buffer: it is transferred to the worker whole
    const decoder = new FrameDecoder(MAX_FRAME, { copy: true })
    s.addEventListener('message', (e) => {
      for (const input of decoder.push(e.data)) {
        const id = ++ids
        replies.set(id, s)
        worker.postMessage({ id, input }, [input.buffer as ArrayBuffer])
      }
    })
  })
  return async () => {
    await worker.terminate()
  }
}

/**
 * A floor client on a stream `node` opens to `peer`: each call maps x + 1
 * over `inputs` cut as `cuts`, `inflight` batches at a time, and resolves
 * with items/s; it throws if a result is wrong (checked after the clock stops).
 */
export async function floorClient(
  node: NodeKernel,
  peer: string,
): Promise<{ run(inputs: number[], cuts: Cut[], inflight: number): Promise<number>; close(): Promise<void> }> {
  const stream = await node.network.dialProtocol(peer, PROTOCOL)
  const decoder = new FrameDecoder(MAX_FRAME, { copy: true })
  const waiting: Array<(f: Uint8Array) => void> = []
  stream.addEventListener('message', (e) => {
    for (const f of decoder.push(e.data)) waiting.shift()?.(f)
  })
  const run = async (inputs: number[], cuts: Cut[], inflight: number): Promise<number> => {
    const t0 = performance.now()
    const parts: unknown[][] = new Array(cuts.length)
    await pooled(cuts.length, inflight, async (i) => {
      const { first, count } = cuts[i]
      const got = new Promise<Uint8Array>((r) => waiting.push(r))
      // encoded from the array itself, as a map job does (no copy of its items)
      const { batch } = encodeLeading(inputs, MAX_BATCH_BYTES, first, first + count)
      if (!stream.send(encodeFrame(batch))) await stream.onDrain()
      parts[i] = decodeBatch(await got, count)
    })
    const out = ([] as unknown[]).concat(...parts)
    const rate = inputs.length / ((performance.now() - t0) / 1000)
    checkIncremented(out, inputs, 'the floor')
    return rate
  }
  return { run, close: () => stream.close().catch(() => stream.abort(new Error('close failed'))) }
}
