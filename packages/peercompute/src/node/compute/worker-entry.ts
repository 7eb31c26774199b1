// The entry file of every pool worker thread in Node.
import { parentPort } from 'node:worker_threads'
import type { FromWorker, ToWorker } from '../../core/compute/messages.js'
import { startWorkerRuntime } from '../../core/compute/worker-runtime.js'
import { nodeRangeTransport } from './node-range-transport.js'

const port = parentPort
if (!port) throw new Error('worker-entry must run in a worker thread')

startWorkerRuntime({
  post: (msg: FromWorker, transfer) => port.postMessage(msg, transfer),
  onMessage: (cb) => port.on('message', (m: ToWorker) => cb(m)),
  importModule: (url) => import(url),
  transport: nodeRangeTransport,
})
