// The floor's worker thread (bench/lib/map-floor.ts): x + 1 over a batch, the result framed.
import { parentPort } from 'node:worker_threads'
import { decodeBatch, encodeFrame, encodeValues } from 'peercompute'

parentPort?.on('message', ({ id, input }: { id: number; input: Uint8Array }) => {
  const items = decodeBatch(input) as number[]
  for (let i = 0; i < items.length; i++) items[i] = items[i] + 1
  const out = encodeFrame(encodeValues(items))
  parentPort?.postMessage({ id, out }, [out.buffer as ArrayBuffer])
})
