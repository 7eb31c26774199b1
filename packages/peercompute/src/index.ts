/**
 * @packageDocumentation
 *
 * PeerCompute turns web pages and Node processes into one peer-to-peer compute
 * mesh. This release has the data kernels and the means to run them by name;
 * the mesh (relay, nodes, scheduler) is being built: see the README's status.
 *
 * @example
 * ```ts
 * import { runOp, kernels } from 'peercompute'
 *
 * runOp('crc32c', new TextEncoder().encode('123456789')) // 0xe3069283
 * kernels.fnv64(new Uint8Array(0)) // 0xcbf29ce484222325n
 * ```
 */
export * as kernels from '@peercompute/kernels'
// Signed code: publisher keys, the bundle format (PROTOCOL.md, "Signed code bundles") and its verification
export {
  BUNDLE_FORMAT,
  BUNDLE_MAGIC,
  BUNDLE_MAX_BYTES,
  type BundleParts,
  decodeBundle,
  encodeBundle,
  looksLikeBundle,
  PUBLIC_KEY_BYTES,
  SIG_ED25519,
  SIGNATURE_BYTES,
  SIGNED_PREFIX,
  type SignedBundle,
} from './core/code/bundle-format.js'
export {
  BUNDLE_NAME_PREFIX,
  bundleName,
  isBundleName,
  SIGNED_CAP_PREFIX,
  signedCap,
} from './core/code/bundle-name.js'
export { type DialProtocol, readBundle } from './core/code/code-fetch.js'
export { CodeServer, MAX_PUBLISHED, type PublishedBundle } from './core/code/code-server.js'
export {
  CODE_STORE_LIMITS,
  type CodePool,
  CodeStore,
  type CodeStoreInit,
  type CodeStoreLimits,
} from './core/code/code-store.js'
export {
  formatPublicKey,
  generatePublisherKey,
  importPublisherKey,
  type NewPublisherKey,
  PUBLIC_KEY_PREFIX,
  type PublisherKey,
  parsePublicKey,
  type WebCryptoKey,
} from './core/code/keys.js'
export {
  BUNDLE_CODE_MAX,
  type CodeBinding,
  type CodeKind,
  type CodeLimits,
  type CodeManifest,
  checkManifest,
  decodeManifest,
  encodeManifest,
  MANIFEST_MAX_BYTES,
  MAX_BINDINGS,
} from './core/code/manifest.js'
export { makeManifest, type SignInit, sha256Hex, signBundle } from './core/code/sign.js'
export { type VerifiedCode, type VerifyOptions, verifyBundle } from './core/code/verify.js'
export { DutyCycle, type DutyCycleStats, PAUSED_ERROR } from './core/compute/duty-cycle.js'
export { fetchRangeTransport } from './core/compute/fetch-range-transport.js'
export {
  GpuExecutor,
  type GpuExecutorInit,
  type GpuOp,
  type WgslBinding,
  type WgslTask,
} from './core/compute/gpu/gpu-executor.js'
/** Signed WGSL on remote GPU peers: the task's wire form (params and input) and the executor's checks. */
export {
  decodeWgslTask,
  encodeWgslTask,
  type RemoteWgslBinding,
  type RemoteWgslTask,
  resolveWgslLimits,
  WGSL_LIMITS,
  type WgslLimits,
  type WgslTaskParams,
} from './core/compute/gpu/remote-wgsl.js'
export {
  LocalCompute,
  type LocalComputeInit,
  type LocalRunOptions,
  type LocalSubstrate,
} from './core/compute/local-compute.js'
export {
  ComputeManager,
  type ComputeManagerInit,
  type ComputeNetwork,
  type ComputeStatus,
  type PeerView,
  type SubmitSpec,
  type TaskResult,
  type TaskSpec,
} from './core/compute/mesh/compute-manager.js'
/** A counting semaphore whose waiters leave when their signal aborts. */
export { Slots } from './core/compute/mesh/executor/slots.js'
export { agreementNeeded, DEFAULT_MAX_ATTEMPTS } from './core/compute/mesh/failures.js'
export { type GatewayBackend, isGatewayBackend } from './core/compute/mesh/gateway-backend.js'
export {
  Job,
  type JobEvents,
  type JobHost,
  type JobResult,
  type JobSpec,
  type LieKind,
  type PieceReport,
  type PieceRun,
  type Requirements,
  type RunOutcome,
} from './core/compute/mesh/job.js'
/** Map jobs: one kernel over many items, batched into `@map` tasks whose bytes are the batch codec's. */
export {
  decodeBatch,
  encodeLeading,
  encodeValues,
  MAP_KERNEL,
  MAX_BATCH_BYTES,
  MAX_BATCH_ITEMS,
  type MapValue,
} from './core/compute/mesh/map/batch-codec.js'
export { MAP_PIPELINE } from './core/compute/mesh/map/batch-size.js'
export { type BatchReport, MapJob, type MapSpec } from './core/compute/mesh/map/map-job.js'
export { MAX_LIARS_KEPT, MetricsRing, type MetricsSummary, type PieceMetric } from './core/compute/mesh/metrics.js'
export { LIE_WEIGHT, MAX_PEER_STATS, type PeerStats, PeerStatsTable } from './core/compute/mesh/peer-stats.js'
export {
  BALANCED_MS_PER_USD,
  type Candidate,
  expectedMs,
  type PieceContext,
  POLICIES,
  type PolicyName,
  peerSlots,
  pieceCostUsd,
  type SchedulerPolicy,
  substrateOf,
} from './core/compute/mesh/policies.js'
export { MAX_KERNEL_RESULT_BYTES, resultBytesProblem, resultProblem } from './core/compute/mesh/result-check.js'
export {
  type RemoteResult,
  type RemoteTask,
  type StreamDialer,
  TaskClient,
  type TaskClientInit,
} from './core/compute/mesh/task-client.js'
export {
  type ExecutorStats,
  type ProtocolHost,
  TASK_LIMITS,
  TaskExecutor,
  type TaskExecutorInit,
  type TaskLimits,
  type TaskRunner,
} from './core/compute/mesh/task-executor.js'
export type { FromWorker, TaskMessage, TaskOutcome, ToWorker } from './core/compute/messages.js'
export { PriorityTaskQueue, type Queued, type TaskQueue } from './core/compute/queue.js'
export {
  type ContentPin,
  type FetchRangeOptions,
  fetchRange,
  isHttpDate,
  isRangeInput,
  isStrongEtag,
  type RangeInput,
  type RangeRequest,
  type RangeResponse,
  type RangeTransport,
} from './core/compute/range-fetch.js'
export {
  checkAddress,
  checkUrl,
  isMetadataHost,
  type ResolvedUrlPolicy,
  resolveUrlPolicy,
  URL_POLICY_DEFAULTS,
  type UrlPolicy,
} from './core/compute/url-policy.js'
export {
  type PoolRunOutcome,
  type PoolStats,
  type PoolTask,
  type RunOptions,
  type WorkerHandle,
  WorkerPool,
  type WorkerPoolInit,
} from './core/compute/worker-pool.js'
export { type KernelFn, startWorkerRuntime, type WorkerPort } from './core/compute/worker-runtime.js'
export * from './core/errors.js'
export { type NodeEvents, NodeKernel, type NodeKernelInit, type NodeStatus } from './core/kernel/node-kernel.js'
export { checkNodeOptions, MAX_TRUSTED_KEYS, type NodeOptions, type StorageMode } from './core/kernel/options.js'
export { IP_KINDS, type IpKind, ipKind, isPublicIp, parseIp } from './core/net-ranges.js'
export { Backoff, type BackoffInit } from './core/network/backoff.js'
export {
  DIAL_TRANSPORTS,
  type DialPolicy,
  DialRules,
  type DialTransport,
  dialPolicyGater,
} from './core/network/dial-policy.js'
export { type MeshLibp2pInit, meshLibp2pOptions } from './core/network/libp2p-options.js'
export {
  type ConnectionInfo,
  type NetworkEvents,
  NetworkManager,
  type NetworkManagerInit,
  type NetworkStatus,
} from './core/network/network-manager.js'
export { measureRtt, RTT_PROTOCOL, rttHandler } from './core/network/rtt.js'
export { chooseNeighbors, type Topology, type TopologyChoice, type TopologyInput } from './core/network/topology.js'
export { isDirect, transportOf } from './core/network/transport-kind.js'
export { closeConnectionOnTrickle } from './core/network/trickle-guard.js'
export { isOp, OPS, type Op, type OpResult, runOp } from './core/ops.js'
export { DEFAULT_STATE_LIMITS, type StateLimits, stateLimits, TokenBucket } from './core/state/limits.js'
export { decodeStateMessage, encodeStateMessage, STATE_PROTOCOL, type StateMessage } from './core/state/messages.js'
export { type PersistStateOptions, persistState, type StatePersistence } from './core/state/persistence.js'
export { type AwarenessEntry, type Presence, parsePresence, readAwarenessUpdate } from './core/state/presence.js'
export { StateBinding, streamLink } from './core/state/state-binding.js'
export {
  type Membership,
  type StateEvents,
  type StateLink,
  StateManager,
  type StateManagerInit,
} from './core/state/state-manager.js'
export { CHUNK_FRAME_MAX, ChunkAssembler, toChunks } from './core/wire/chunks.js'
export {
  BundleAssembler,
  bundleChunks,
  CODE_CHUNK_BYTES,
  CODE_FRAME_MAX,
  CODE_PROTOCOL,
  type CodeHead,
  decodeCodeHead,
  decodeCodeRequest,
  encodeCodeHead,
  encodeCodeRequest,
} from './core/wire/code.js'
export { FramedStream, type FramedStreamHandlers } from './core/wire/framed-stream.js'
export { DEFAULT_MAX_FRAME, encodeFrame, FrameDecoder } from './core/wire/frames.js'
export {
  type Capabilities,
  canonicalAddr,
  decodeRegistryMessage,
  encodeRegistryMessage,
  GATEWAY_KINDS,
  type GatewayInfo,
  type GatewayKind,
  type Load,
  type MeshLink,
  type PeerRecord,
  PRICE_MODELS,
  type PriceModelKind,
  parseCapabilities,
  parseLoad,
  REGISTRY_MAX_FRAME,
  REGISTRY_PROTOCOL,
  REGISTRY_TYPES,
  type RegistryMessage,
  SUBSTRATES,
  type Substrate,
  TRANSPORTS,
  type TransportKind,
} from './core/wire/registry.js'
export {
  decodeTaskMessage,
  encodeTaskMessage,
  TASK_FRAME_MAX,
  TASK_HEADER_MAX,
  TASK_PROTOCOL,
  TASK_TYPES,
  type TaskMessage as TaskWireMessage,
  type TaskParams,
  type TaskRequestHeader,
  type TaskResultHeader,
  type TaskSource,
} from './core/wire/task.js'
