/**
 * @packageDocumentation
 *
 * PeerCompute for browsers: everything in the platform-neutral entry, plus the
 * worker pool on module Web Workers and WebGPU through `navigator.gpu`.
 *
 * @example
 * ```ts
 * import { createWorkerPool, GpuExecutor } from 'peercompute'
 *
 * const pool = createWorkerPool({ maxCpuFraction: 0.5 })
 * const crc = await pool.run('crc32c', bytes)
 * const gpu = navigator.gpu ? new GpuExecutor({ gpu: navigator.gpu }) : undefined
 * ```
 */
export * from '../index.js'
export { createWorkerPool, type WorkerPoolBrowserInit } from './compute/browser-worker-pool.js'
export { type BrowserNodeOptions, createNode } from './create-node.js'
export { type BrowserNetworkInit, createNetworkManager } from './network.js'
export {
  forgetPeerIdentity,
  loadPeerIdentity,
  type PeerIdentityOptions,
  type RunOncePerSiteOptions,
  runOncePerSite,
  SiteNode,
  type SiteNodeEvents,
  type SiteNodeHandle,
  type TabCommand,
  type TabRole,
  type VisibilitySource,
} from './volunteer/tabs/index.js'
