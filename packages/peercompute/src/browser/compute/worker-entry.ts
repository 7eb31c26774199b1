// The entry file of every pool worker in a browser (a module Web Worker).
import { fetchRangeTransport } from '../../core/compute/fetch-range-transport.js'
import type { FromWorker, ToWorker } from '../../core/compute/messages.js'
import { startWorkerRuntime } from '../../core/compute/worker-runtime.js'

const scope = self as unknown as DedicatedWorkerGlobalScope

startWorkerRuntime({
  post: (msg: FromWorker, transfer) => scope.postMessage(msg, transfer),
  onMessage: (cb) => {
    scope.onmessage = (e: MessageEvent<ToWorker>) => cb(e.data)
  },
  importModule: (url) => import(/* @vite-ignore */ url),
  transport: fetchRangeTransport,
})
