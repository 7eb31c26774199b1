import type { DutyCycle } from '../../core/compute/duty-cycle.js'
import type { FromWorker } from '../../core/compute/messages.js'
import { type WorkerHandle, WorkerPool, type WorkerPoolInit } from '../../core/compute/worker-pool.js'

/** A pool worker on a module Web Worker. */
function browserWorker(): WorkerHandle {
  // Written as one expression so that bundlers (Vite, webpack) find and emit the worker.
  const w = new Worker(new URL('./worker-entry.js', import.meta.url), { type: 'module' })
  let dead = false
  return {
    post: (msg, transfer) => w.postMessage(msg, transfer),
    start(onMessage, onDeath) {
      w.onmessage = (e: MessageEvent<FromWorker>) => onMessage(e.data)
      // An uncaught error does not end a Web Worker, but its state is unknown: retire it.
      w.onerror = (e) => {
        e.preventDefault()
        if (dead) return
        dead = true
        w.terminate()
        onDeath(new Error(e.message || 'worker error'))
      }
    },
    async terminate() {
      dead = true
      w.terminate()
    },
  }
}

/** Options of the browser worker pool: the common ones, minus what the browser supplies. */
export interface WorkerPoolBrowserInit extends Omit<WorkerPoolInit, 'createWorker' | 'cores'> {
  /** Cores to size for (default `navigator.hardwareConcurrency`). */
  cores?: number
  /** Caps each worker's busy share and pauses them (volunteers): every worker is wrapped by it. */
  dutyCycle?: DutyCycle
}

/** A worker pool on module Web Workers. */
export function createWorkerPool(init: WorkerPoolBrowserInit = {}): WorkerPool {
  const { dutyCycle, ...rest } = init
  return new WorkerPool({
    ...rest,
    cores: init.cores ?? navigator.hardwareConcurrency ?? 2,
    createWorker: dutyCycle ? () => dutyCycle.wrap(browserWorker()) : browserWorker,
  })
}
