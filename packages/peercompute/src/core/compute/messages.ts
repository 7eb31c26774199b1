// Messages between a WorkerPool and its workers. Tasks travel in batches: one
// postMessage per burst, not per task, so tiny tasks are not dominated by
// thread wake-ups.

import type { ContentPin } from './range-fetch.js'
import type { UrlPolicy } from './url-policy.js'

/** One task for a worker. */
export interface TaskMessage {
  id: number
  kernel: string
  input: unknown
  params: unknown
}

/** Pool → worker. */
export type ToWorker =
  /** The first message to every worker: the node's settings it enforces (a worker that gets none uses the defaults). */
  | { type: 'init'; urlPolicy: UrlPolicy }
  | { type: 'tasks'; tasks: TaskMessage[] }
  | { type: 'cancel'; id: number }
  | { type: 'register'; name: string; moduleUrl: string }
  | { type: 'unregister'; name: string }

/** A task's outcome as a worker reports it. */
export type TaskOutcome =
  /** `validator`: for a URL range, the content's ETag or Last-Modified as the response gave it. */
  | { id: number; ok: true; output: unknown; validator?: ContentPin }
  | { id: number; ok: false; errorName: string; message: string; notFound?: boolean }

/** Worker → pool. */
export type FromWorker = { type: 'results'; results: TaskOutcome[] }
