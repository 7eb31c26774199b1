/**
 * @packageDocumentation
 *
 * PeerCompute for Node: everything in the platform-neutral entry, plus the
 * worker pool on `worker_threads`.
 *
 * @example
 * ```ts
 * import { createWorkerPool } from 'peercompute'
 *
 * const pool = createWorkerPool({ maxWorkers: 2 })
 * const crc = await pool.run('crc32c', bytes, { transfer: [bytes.buffer] })
 * await pool.stop()
 * ```
 */
export * from '../index.js'
export { type BridgeStats, RedisBridge, type RedisBridgeOptions } from './bridge/bridge.js'
export { type BridgeJob, type JobLimits, type ParsedJob, parseJob } from './bridge/job.js'
export { BRIDGES_KEY, leaseKey, reclaimOrphans } from './bridge/lease.js'
export { type BridgeResult, resultData } from './bridge/results.js'
export { createNodeGpu, type GpuPresenceProbe, gpuMayExist, nodeGpuAvailable } from './compute/node-gpu.js'
export { checkingLookup, nodeRangeTransport } from './compute/node-range-transport.js'
export { createWorkerPool, type WorkerPoolNodeInit } from './compute/node-worker-pool.js'
export { createNode, type NodeCreateOptions, TRAVELING_CODE_LIMITS } from './create-node.js'
export { createNetworkManager, type NodeNetworkInit } from './network/create-network.js'
export { createHttpApp, type HttpAppInit, MAX_BODY_BYTES } from './serve/http-app.js'
export { JobMetrics } from './serve/job-metrics.js'
export {
  type JobEvent,
  type JobRecord,
  JobService,
  type JobServiceInit,
  type MeshJob,
} from './serve/job-service.js'
export { jobView, MAX_INLINE_RESULT_BYTES } from './serve/job-shapes.js'
export { openApiDocument } from './serve/openapi.js'
export { type ApiJob, type ApiPieceReport, JOB_KERNELS, type JobRequest, JobRequestSchema } from './serve/schemas.js'
export { DEFAULT_SSE_LIMITS, SseHub, type SseLimits, type SseStream } from './serve/sse.js'
export { type Served, type ServeInit, startServe } from './serve/start-serve.js'
export { FileUpdateLog, type FileUpdateLogOptions, readFrames } from './state/file-update-log.js'
