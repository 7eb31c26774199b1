// The volunteer's node chunk (`peercompute.volunteer.node.js`): libp2p, Yjs
// and the kernels. The loader imports it only after the visitor agreed.
import { DutyCycle, type DutyCycleStats } from '../../core/compute/duty-cycle.js'
import { LocalCompute } from '../../core/compute/local-compute.js'
import { assembleNode } from '../../core/kernel/assemble.js'
import type { NodeKernel } from '../../core/kernel/node-kernel.js'
import { checkNodeOptions, type NodeOptions } from '../../core/kernel/options.js'
import { createWorkerPool } from '../compute/browser-worker-pool.js'
import { type BrowserNetworkInit, createNetworkManager } from '../network.js'
import { loadPeerIdentity } from './tabs/peer-identity.js'

/** What the loader asks of the node chunk. */
export interface VolunteerNodeInit {
  relays: string[]
  room?: string
  trust?: string[]
  maxCpu: number
  workers?: number
  allowOrigins?: string[]
  allowPrivate?: boolean
  dialPrivate?: boolean
  rtcConfiguration?: RTCConfiguration
  /** Start paused (the page is hidden, or the visitor paused before the node came up). */
  paused?: boolean
  /** The IndexedDB database of the site's peer identity: every leader tab is the same peer (default: a new key). */
  identityDb?: string
  /** Gives up starting (this tab stopped leading). */
  signal?: AbortSignal
}

/** What the volunteer's node did: tasks and busy time, with the executor's counters. */
export interface VolunteerNodeStats extends DutyCycleStats {
  peerId: string
  /** Tasks peers asked of this node that it completed / that failed or were refused. */
  completed: number
  failed: number
}

/** A running volunteer node, as the loader drives it. */
export interface VolunteerNode {
  readonly peerId: string
  /** Refuses new tasks; running ones finish. */
  pause(): void
  resume(): void
  stats(): VolunteerNodeStats
  /** Told whenever a task starts or finishes. */
  onChange(fn: () => void): () => void
  /** Stops everything: the node, its workers and its connections. */
  stop(): Promise<void>
  /** The node itself (tests, advanced sites). */
  readonly node: NodeKernel
}

/**
 * Creates and starts a volunteer's node: its workers duty-cycled to `maxCpu`,
 * WebGPU off (its share cannot be capped), shared state in memory only. With
 * `trust`, kernels signed by those keys run in sandboxes (opaque-origin
 * iframes), under the same cap and pause; without it, only the built-ins run.
 */
export async function startVolunteerNode(init: VolunteerNodeInit): Promise<VolunteerNode> {
  const cores = navigator.hardwareConcurrency || 2
  const maxWorkers = init.workers ?? Math.max(1, cores - 1)
  // the lent cores: built-in workers and sandboxes together run at most maxWorkers tasks at once
  const duty = new DutyCycle(init.maxCpu, maxWorkers)
  if (init.paused) duty.pause()
  const options: NodeOptions & Omit<BrowserNetworkInit, 'capabilities' | 'load'> = {
    relays: init.relays,
    room: init.room,
    ...(init.identityDb
      ? { privateKey: await loadPeerIdentity({ dbName: init.identityDb, signal: init.signal }) }
      : {}),
    ...(init.trust?.length ? { trust: init.trust } : {}),
    enableWebGPU: false,
    storageMode: 'memory',
    urlPolicy: {
      ...(init.allowOrigins ? { allowOrigins: init.allowOrigins } : {}),
      allowPrivate: init.allowPrivate === true,
    },
    ...(init.dialPrivate ? { dialPolicy: { allowPrivate: true } } : {}),
    ...(init.rtcConfiguration ? { rtcConfiguration: init.rtcConfiguration } : {}),
  }
  checkNodeOptions(options)
  // signed code from other peers runs in sandboxes (a chunk of its own, loaded only with trust), duty-cycled too
  const codePool = init.trust?.length
    ? (await import('./sandbox-entry.js')).createVolunteerCodePool(maxWorkers, duty)
    : undefined
  // built here rather than by createNode: no WebGPU and no IndexedDB, so neither is in the chunk
  const node = await assembleNode({
    options,
    local: new LocalCompute({
      pool: createWorkerPool({
        maxWorkers,
        urlPolicy: options.urlPolicy,
        dutyCycle: duty,
      }),
      enableWebGPU: false,
    }),
    codePool,
    createNetwork: (hooks) => createNetworkManager({ ...options, ...hooks }),
    substrate: 'browser',
    memoryMb: Math.floor((((navigator as { deviceMemory?: number }).deviceMemory ?? 4) * 1024) / 4),
  })
  try {
    await node.start()
  } catch (err) {
    await node.stop().catch(() => {})
    throw err
  }
  return {
    peerId: node.peerId,
    node,
    pause: () => duty.pause(),
    resume: () => duty.resume(),
    onChange: (fn) => duty.onChange(fn),
    stats: () => {
      const ex = node.compute.status().executor
      return { ...duty.stats(), peerId: node.peerId, completed: ex.completed, failed: ex.failed }
    },
    stop: async () => {
      duty.pause()
      await node.stop()
    },
  }
}
