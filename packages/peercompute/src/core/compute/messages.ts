// Messages between a WorkerPool and its workers. Tasks travel in batches: one
// postMessage per burst, not per task, so tiny tasks are not dominated by
// thread wake-ups.

/** One task for a worker. */
export interface TaskMessage {
  id: number
  kernel: string
  input: unknown
  params: unknown
}

/** Pool → worker. */
export type ToWorker =
  | { type: 'tasks'; tasks: TaskMessage[] }
  | { type: 'cancel'; id: number }
  | { type: 'register'; name: string; moduleUrl: string }

/** A task's outcome as a worker reports it. */
export type TaskOutcome =
  | { id: number; ok: true; output: unknown }
  | { id: number; ok: false; errorName: string; message: string; notFound?: boolean }

/** Worker → pool. */
export type FromWorker = { type: 'results'; results: TaskOutcome[] }
