import { IndexeddbPersistence } from 'y-indexeddb'
import type { DutyCycle } from '../core/compute/duty-cycle.js'
import { GpuExecutor } from '../core/compute/gpu/gpu-executor.js'
import { LocalCompute } from '../core/compute/local-compute.js'
import { assembleNode } from '../core/kernel/assemble.js'
import type { NodeKernel } from '../core/kernel/node-kernel.js'
import { checkNodeOptions, type NodeOptions } from '../core/kernel/options.js'
import type { NetworkManagerInit } from '../core/network/network-manager.js'
import { createWorkerPool } from './compute/browser-worker-pool.js'
import { SandboxPool } from './compute/sandbox/sandbox-pool.js'
import { type BrowserNetworkInit, createNetworkManager } from './network.js'

/** Options of a browser peer: the common ones, plus the page's network settings. */
export interface BrowserNodeOptions
  extends NodeOptions,
    Pick<
      BrowserNetworkInit,
      'rtcConfiguration' | 'privateKey' | 'connectionGater' | 'dialPolicy' | 'maxPeerConnections'
    >,
    Pick<NetworkManagerInit, 'heartbeatMs' | 'pingIntervalMs' | 'relayBackoff' | 'upgradeBackoff' | 'children' | 'k'> {
  /** `storageMode: 'local'`: the IndexedDB database name (default `peercompute-<room>`). */
  dbName?: string
  /** Volunteers: caps each worker's busy share and pauses the pool (see `DutyCycle`). */
  dutyCycle?: DutyCycle
}

/**
 * Creates a browser peer (not started): WebSockets to relays, circuit relay and
 * WebRTC; the room's shared document (kept in IndexedDB with
 * `storageMode: 'local'`); module Web Workers, and WebGPU where the page has it.
 * With `trust`, signed kernels from other peers run in sandboxes: a Worker in
 * an opaque-origin iframe each (`SandboxPool`; a page is needed, not a worker).
 * Browsers offer their work for free.
 */
export async function createNode(options: BrowserNodeOptions): Promise<NodeKernel> {
  checkNodeOptions(options)
  const nav = navigator as Navigator & { gpu?: GPU; deviceMemory?: number }
  if (options.trust?.length && typeof document === 'undefined')
    options.log?.('trust is set, but traveling code needs a page (its sandboxes are iframes): this node runs none')
  const adapter = options.enableWebGPU === false || !nav.gpu ? null : await nav.gpu.requestAdapter().catch(() => null)
  return assembleNode({
    options,
    local: new LocalCompute({
      pool: createWorkerPool({
        maxWorkers: options.maxWorkers,
        maxCpuFraction: options.maxCpuFraction,
        urlPolicy: options.urlPolicy,
        dutyCycle: options.dutyCycle,
      }),
      gpu: adapter && nav.gpu ? new GpuExecutor({ gpu: nav.gpu }) : undefined,
      enableWebGPU: options.enableWebGPU,
    }),
    // traveling code never runs in the page's own workers: each sandbox is an opaque origin without network
    codePool:
      options.trust?.length && typeof document !== 'undefined'
        ? new SandboxPool({ maxWorkers: options.maxWorkers, maxCpuFraction: options.maxCpuFraction })
        : undefined,
    createNetwork: (hooks) => createNetworkManager({ ...options, ...hooks }),
    substrate: 'browser',
    memoryMb: Math.floor(((nav.deviceMemory ?? 4) * 1024) / 2),
    storage: (room) => async (s) => {
      const idb = new IndexeddbPersistence(options.dbName ?? `peercompute-${room}`, s.doc)
      await idb.whenSynced
      return () => idb.destroy()
    },
  })
}
