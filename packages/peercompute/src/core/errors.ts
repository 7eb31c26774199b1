// Error classes with a fixed `name`, so callers can tell failures apart across
// realms and after structured cloning (`err.name === 'TaskTimeoutError'`).

/** Base class: every PeerCompute error has a fixed `name` and may carry a `cause`. */
export class PeerComputeError extends Error {
  override name = 'PeerComputeError'
}

/** A task named a kernel that the executor has not registered. */
export class KernelNotFoundError extends PeerComputeError {
  override name = 'KernelNotFoundError'
}

/** The queue is at its bound; nothing was enqueued. */
export class QueueFullError extends PeerComputeError {
  override name = 'QueueFullError'
}

/** A task passed its deadline. */
export class TaskTimeoutError extends PeerComputeError {
  override name = 'TaskTimeoutError'
}

/** A task was cancelled through its `AbortSignal`. */
export class AbortError extends PeerComputeError {
  override name = 'AbortError'
}

/** The worker running a task died (uncaught error, exit, out of memory). */
export class WorkerCrashedError extends PeerComputeError {
  override name = 'WorkerCrashedError'
}

/** A kernel threw; `message` is the kernel's own, `kernelErrorName` its error's name. */
export class KernelError extends PeerComputeError {
  override name = 'KernelError'
  readonly kernelErrorName: string
  constructor(message: string, kernelErrorName: string) {
    super(message)
    this.kernelErrorName = kernelErrorName
  }
}

/** The executor was stopped; the task did not run (or its result was dropped). */
export class StoppedError extends PeerComputeError {
  override name = 'StoppedError'
}

/** The input or output is bigger than allowed. */
export class PayloadTooLargeError extends PeerComputeError {
  override name = 'PayloadTooLargeError'
}

/** No WebGPU adapter or device could be had. */
export class GpuUnavailableError extends PeerComputeError {
  override name = 'GpuUnavailableError'
}

/** WebGPU reported a validation or out-of-memory error for a task (bad shader, bad bindings). */
export class GpuValidationError extends PeerComputeError {
  override name = 'GpuValidationError'
}

/** The GPU device was lost while a task ran; a new device is made for the next task. */
export class GpuDeviceLostError extends PeerComputeError {
  override name = 'GpuDeviceLostError'
}

/** A peer sent bytes that do not follow the protocol (malformed, oversized, unknown type). */
export class ProtocolError extends PeerComputeError {
  override name = 'ProtocolError'
}

/**
 * A peer sent a frame in more, smaller pieces than any honest sender does (a
 * byte per muxer message burns the receiver's CPU in decryption and muxing
 * below this library). The stream is reset and the connection it came on is closed.
 */
export class TrickledFrameError extends ProtocolError {
  override name = 'TrickledFrameError'
}

/** A data source could not give exactly the bytes asked for (HTTP error, Range ignored, wrong Content-Range, short body). */
export class DataSourceError extends PeerComputeError {
  override name = 'DataSourceError'
}

/** No peer (the local node included) meets a task's requirements. */
export class NoEligiblePeerError extends PeerComputeError {
  override name = 'NoEligiblePeerError'
}

/** Redundant runs of a piece disagreed and no majority could be formed. */
export class ResultMismatchError extends PeerComputeError {
  override name = 'ResultMismatchError'
}

/** A peer sent more requests per second than it is allowed, or has too many tasks in flight. */
export class RateLimitedError extends PeerComputeError {
  override name = 'RateLimitedError'
}

/** The peer running a task went away (its stream or connection closed) before answering. */
export class PeerUnavailableError extends PeerComputeError {
  override name = 'PeerUnavailableError'
}

/** An option names a feature that this release does not have (it is not silently ignored). */
export class UnsupportedOptionError extends PeerComputeError {
  override name = 'UnsupportedOptionError'
}

/**
 * A URL source this node's URL policy does not allow (a scheme other than
 * http(s), userinfo, an origin off the allow-list, or a host that is or
 * resolves to a loopback, private, link-local or other non-public address).
 * Raised before any connection is opened.
 */
export class UrlNotAllowedError extends PeerComputeError {
  override name = 'UrlNotAllowedError'
}

/** Errors that cross a thread boundary inside this node by name (a worker's message), rebuilt as their classes. */
const BY_NAME: Record<string, new (message: string) => PeerComputeError> = {
  AbortError,
  DataSourceError,
  KernelNotFoundError,
  PayloadTooLargeError,
  PeerUnavailableError,
  ProtocolError,
  QueueFullError,
  RateLimitedError,
  TaskTimeoutError,
  UrlNotAllowedError,
}

/**
 * The error named `name`, rebuilt from its message after crossing a thread
 * inside this node: one of these classes when the name is theirs, else a
 * `KernelError` that keeps the name (what a kernel threw). Not for errors from
 * the network: a peer's error is a `RemoteTaskError`.
 */
export function errorFromName(name: string, message: string): PeerComputeError {
  const C = Object.hasOwn(BY_NAME, name) ? BY_NAME[name] : undefined
  return C ? new C(message) : new KernelError(message, name)
}

/**
 * A peer answered a task with an error. Its name and message are the peer's
 * word, kept as data (`remoteName`) and never rebuilt into this library's
 * classes: a remote cannot forge `AbortError` or `ResultMismatchError`. The
 * submitter counts it as that peer's failure.
 */
export class RemoteTaskError extends PeerComputeError {
  override name = 'RemoteTaskError'
  /** The error name the peer sent (unchecked text, at most 64 characters). */
  readonly remoteName: string
  /** The peer that sent it. */
  readonly peer: string
  constructor(peer: string, remoteName: string, message: string) {
    super(`peer ${peer} reported ${remoteName}: ${message}`)
    this.remoteName = remoteName
    this.peer = peer
  }
}

/** A peer's result does not have the shape its op gives (type, length or range): the submitter counts it as a lie. */
export class MalformedResultError extends PeerComputeError {
  override name = 'MalformedResultError'
}

/** An option has a value it does not accept (wrong type, out of range, unknown name). */
export class InvalidOptionError extends PeerComputeError {
  override name = 'InvalidOptionError'
}

/** Why signed code was refused (`UntrustedCodeError.reason`). */
export type UntrustedCodeReason =
  /** The bytes are not a signed bundle at all (no bundle magic): unsigned code. */
  | 'unsigned'
  /** A bundle that does not follow the format (truncated, oversized, bad manifest); `cause` is the `ProtocolError`. */
  | 'malformed'
  /** Signed by a key that is not in `trust`. */
  | 'unknown-key'
  /** The signature does not verify over the manifest (a tampered manifest, a forged or damaged signature). */
  | 'bad-signature'
  /** The code's bytes do not match the manifest's SHA-256 or size (tampered code). */
  | 'code-mismatch'
  /** The manifest's `expires` has passed. */
  | 'expired'

/**
 * Code was refused before anything compiled or ran it: unsigned, malformed,
 * signed by a key not trusted, a signature that does not verify, code that
 * does not match its manifest, or an expired bundle. `reason` says which.
 */
export class UntrustedCodeError extends PeerComputeError {
  override name = 'UntrustedCodeError'
  /** Which check refused the code. */
  readonly reason: UntrustedCodeReason
  constructor(reason: UntrustedCodeReason, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.reason = reason
  }
}

/**
 * A WGSL task does not fit its shader: its buffers are not the bindings the
 * signed manifest declares (a binding missing, extra, or of another kind), or
 * its output is not one of them. Refused before any GPU resource is made.
 */
export class BindingMismatchError extends PeerComputeError {
  override name = 'BindingMismatchError'
}

/**
 * A WGSL task asks more of the GPU than this executor allows: a dispatch over
 * its workgroup limits, or a uniform buffer over the uniform size limit.
 * Refused before any GPU resource is made.
 */
export class GpuLimitError extends PeerComputeError {
  override name = 'GpuLimitError'
}

/**
 * A queued job (the Redis bridge's `packetfs:jobs:queue`) that is not a valid
 * job: not JSON, a missing or wrong field, a length beyond the bridge's bound,
 * or a data URL the node's URL policy refuses. The message says which.
 */
export class InvalidJobError extends PeerComputeError {
  override name = 'InvalidJobError'
}

/** An Idempotency-Key came back with a different request body than the one that made its job (HTTP 409). */
export class IdempotencyConflictError extends PeerComputeError {
  override name = 'IdempotencyConflictError'
}

/**
 * The page lacks what running one node per site needs: Web Locks
 * (`navigator.locks`, secure contexts only) or BroadcastChannel.
 */
export class TabCoordinationUnavailableError extends PeerComputeError {
  override name = 'TabCoordinationUnavailableError'
}

/**
 * A gateway's function did not answer with a result: an error status, or a
 * body that is malformed, oversized or not the task's result. `status` is the
 * HTTP status when there was one.
 */
export class FunctionError extends PeerComputeError {
  override name = 'FunctionError'
  /** The function's HTTP status, when it answered one. */
  readonly status?: number
  constructor(message: string, options?: { cause?: unknown; status?: number }) {
    super(message, options)
    this.status = options?.status
  }
}
