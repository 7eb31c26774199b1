import { KernelError } from '../../../errors.js'

/**
 * What a peer is told when its task fails while running here: the error's
 * name and a fixed message for that name. Detail (URLs, addresses, HTTP
 * statuses, paths, stacks) stays in the local log: a requester must not be
 * able to use executors as scanners of their own networks.
 */
const MESSAGES: Record<string, string> = {
  AbortError: 'the task was aborted on the executor',
  BindingMismatchError: "the task's buffers are not the bindings its shader declares",
  DataSourceError: 'the data source could not be read',
  GpuDeviceLostError: 'the GPU was lost while the task ran',
  GpuLimitError: "the task's dispatch or buffers exceed this executor's GPU limits",
  GpuUnavailableError: 'no GPU could run the task',
  GpuValidationError: 'the GPU refused the task',
  KernelNotFoundError: 'the kernel is not available here',
  PayloadTooLargeError: "the task's output exceeds this executor's limit",
  ProtocolError: "the task's parameters could not be used",
  QueueFullError: 'the executor is too busy to run the task',
  RateLimitedError: 'the executor is too busy to run the task',
  StoppedError: 'the executor stopped',
  TaskTimeoutError: "the task's deadline passed on the executor",
  UntrustedCodeError: 'the code was refused: it is not signed by a key this executor trusts, or does not verify',
  UrlNotAllowedError: "the URL is not allowed by the executor's URL policy",
  WorkerCrashedError: 'the worker running the task failed',
}

/** A kernel's own error name passes on only when it looks like a class name. */
const NAME = /^[A-Za-z_$][\w$]{0,63}$/

/** The `{ name, message }` sent to a peer for a task of its that failed while running. */
export function errorForPeer(err: unknown): { name: string; message: string } {
  const name = (err as Error | undefined)?.name
  if (err instanceof KernelError) {
    const thrown = NAME.test(err.kernelErrorName) ? ` (${err.kernelErrorName})` : ''
    return { name: 'KernelError', message: `the kernel threw an error${thrown}` }
  }
  if (typeof name === 'string' && Object.hasOwn(MESSAGES, name)) return { name, message: MESSAGES[name] }
  return { name: 'KernelError', message: 'the task failed on the executor' }
}
