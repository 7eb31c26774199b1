import { mkdir } from 'node:fs/promises'
import { freemem, totalmem } from 'node:os'
import { join } from 'node:path'
import { GpuExecutor } from '../core/compute/gpu/gpu-executor.js'
import { LocalCompute } from '../core/compute/local-compute.js'
import { assembleNode } from '../core/kernel/assemble.js'
import type { NodeKernel } from '../core/kernel/node-kernel.js'
import { checkNodeOptions, type NodeOptions } from '../core/kernel/options.js'
import type { NetworkManagerInit } from '../core/network/network-manager.js'
import { persistState } from '../core/state/persistence.js'
import { createNodeGpu, nodeGpuAvailable } from './compute/node-gpu.js'
import { createWorkerPool } from './compute/node-worker-pool.js'
import { createNetworkManager, type NodeNetworkInit } from './network/create-network.js'
import { FileUpdateLog } from './state/file-update-log.js'

/** `resourceLimits` of the worker threads that run traveling code (signed kernels from other peers). */
export const TRAVELING_CODE_LIMITS = { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 32, stackSizeMb: 4 }

/** Options of a Node peer: the common ones, plus Node's network and storage settings. */
export interface NodeCreateOptions
  extends NodeOptions,
    Pick<
      NodeNetworkInit,
      'listen' | 'rtcConfiguration' | 'privateKey' | 'connectionGater' | 'dialPolicy' | 'maxPeerConnections'
    >,
    Pick<NetworkManagerInit, 'heartbeatMs' | 'pingIntervalMs' | 'relayBackoff' | 'upgradeBackoff' | 'children' | 'k'> {
  /** `storageMode: 'local'`: the folder for the state's update log (default `./.peercompute`). */
  storageDir?: string
}

/**
 * Creates a Node peer (not started): a libp2p node with TCP, WebSockets,
 * circuit relay and WebRTC; the room's shared document (an update log in
 * `storageDir` with `storageMode: 'local'`); a worker_threads pool, and WebGPU
 * through the optional `webgpu` package when `enableWebGPU` allows and a GPU
 * driver may exist (see `gpuMayExist`). Dawn's instance for tasks is made by
 * the first GPU task and dropped, its device destroyed, on stop.
 */
export async function createNode(options: NodeCreateOptions): Promise<NodeKernel> {
  checkNodeOptions(options)
  const gpu = options.enableWebGPU !== false && (await nodeGpuAvailable())
  const dir = options.storageDir ?? '.peercompute'
  return assembleNode({
    options,
    local: new LocalCompute({
      pool: createWorkerPool({
        maxWorkers: options.maxWorkers,
        maxCpuFraction: options.maxCpuFraction,
        urlPolicy: options.urlPolicy,
      }),
      gpu: gpu ? new GpuExecutor({ gpu: createNodeGpu }) : undefined,
      enableWebGPU: options.enableWebGPU,
    }),
    // traveling code gets its own workers, each with a bounded heap (trusting the publisher is the isolation: SECURITY.md)
    codePool: options.trust?.length
      ? createWorkerPool({
          maxWorkers: options.maxWorkers,
          maxCpuFraction: options.maxCpuFraction,
          urlPolicy: options.urlPolicy,
          resourceLimits: TRAVELING_CODE_LIMITS,
        })
      : undefined,
    createNetwork: (hooks) => createNetworkManager({ ...options, ...hooks }),
    substrate: 'node',
    memoryMb: Math.floor(Math.min(totalmem() / 2, freemem()) / 2 ** 20),
    storage: (room) => async (s) => {
      await mkdir(dir, { recursive: true })
      return persistState(s, new FileUpdateLog(join(dir, `state-${room}.log`), { log: options.log }), {
        log: options.log,
      })
    },
  })
}
