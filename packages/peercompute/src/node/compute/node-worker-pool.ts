import { existsSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { FromWorker } from '../../core/compute/messages.js'
import { type WorkerHandle, WorkerPool, type WorkerPoolInit } from '../../core/compute/worker-pool.js'

/** The compiled worker entry beside this module (from TypeScript sources, the one in dist/). */
function defaultWorkerUrl(): URL {
  const url = new URL('./worker-entry.js', import.meta.url)
  if (existsSync(fileURLToPath(url))) return url
  const fromDist = new URL(url.href.replace('/src/node/', '/dist/node/'))
  if (existsSync(fileURLToPath(fromDist))) return fromDist
  throw new Error(`pool worker entry not found at ${url.pathname}: run npm run build`)
}

/** A pool worker on a worker_threads Worker. */
function nodeWorker(url: URL, resourceLimits?: WorkerPoolNodeInit['resourceLimits']): WorkerHandle {
  const w = new Worker(url, { resourceLimits })
  let dead = false
  return {
    post: (msg, transfer) => w.postMessage(msg, transfer),
    start(onMessage, onDeath) {
      w.on('message', (m: FromWorker) => onMessage(m))
      w.on('error', (err) => {
        if (dead) return
        dead = true
        onDeath(err)
      })
      w.on('exit', (code) => {
        if (dead) return
        dead = true
        onDeath(new Error(`worker exited with code ${code}`))
      })
    },
    async terminate() {
      dead = true
      await w.terminate()
    },
  }
}

/** Options of the Node worker pool: the common ones, minus what Node supplies. */
export interface WorkerPoolNodeInit extends Omit<WorkerPoolInit, 'createWorker' | 'cores'> {
  /** Cores to size for (default `os.availableParallelism()`). */
  cores?: number
  /** Memory limits per worker thread. */
  resourceLimits?: { maxOldGenerationSizeMb?: number; maxYoungGenerationSizeMb?: number; stackSizeMb?: number }
}

/** A worker pool on `worker_threads`. */
export function createWorkerPool(init: WorkerPoolNodeInit = {}): WorkerPool {
  const url = defaultWorkerUrl()
  return new WorkerPool({
    ...init,
    cores: init.cores ?? availableParallelism(),
    createWorker: () => nodeWorker(url, init.resourceLimits),
  })
}
