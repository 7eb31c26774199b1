import { isOp } from '../../ops.js'
import type { WgslTask } from '../gpu/gpu-executor.js'
import type { LocalCompute } from '../local-compute.js'
import type { RangeInput } from '../range-fetch.js'
import type { Job } from './job.js'
import type { JobInit, JobSpec, PieceReport } from './job-types.js'
import type { PolicyName, SchedulerPolicy } from './policies.js'

/** A job as `submit` takes it: the policy may be named. */
export interface SubmitSpec extends Omit<JobSpec, 'policy'> {
  policy?: PolicyName | SchedulerPolicy
}

/** A task in the shape of the original PeerCompute README. */
export type TaskSpec =
  | ({
      id: string
      type: 'kernel'
      kernel: string
      data: Uint8Array | RangeInput
      params?: Record<string, unknown>
    } & Pick<SubmitSpec, 'redundancy' | 'policy' | 'requirements' | 'signal'>)
  | ({ id: string; type: 'webgpu'; signal?: AbortSignal } & WgslTask)

/** What `submitTask` resolves to; failures resolve too, with `success: false` and the error. */
export interface TaskResult {
  id: string
  success: boolean
  result?: unknown
  error?: { name: string; message: string }
  substrate: string
  peers: string[]
  executionTimeMs: number
  costUsd: number
  pieces: PieceReport[]
}

/** What submitTask needs of its ComputeManager. */
export interface TaskSubmitter {
  local: LocalCompute
  peerId: string
  /** A built-in op's job (checked). */
  submit(spec: SubmitSpec): Job
  /** Any job (a registered kernel's too). */
  startJob(init: JobInit, policy: SubmitSpec['policy']): Job
}

/** Runs a task in the original README's shape: `kernel` tasks on the mesh, `webgpu` (WGSL) tasks on this node's GPU. */
export async function submitTask(m: TaskSubmitter, task: TaskSpec): Promise<TaskResult> {
  const t0 = performance.now()
  const base = { id: task.id, substrate: 'local', peers: [] as string[], costUsd: 0, pieces: [] as PieceReport[] }
  try {
    if (task.type === 'webgpu') {
      const { id: _id, type: _type, signal, ...wgsl } = task
      const result = await m.local.runWgsl(wgsl, signal)
      return {
        ...base,
        success: true,
        result,
        substrate: 'webgpu',
        peers: [m.peerId],
        executionTimeMs: performance.now() - t0,
      }
    }
    if (task.type !== 'kernel') throw new TypeError(`unknown task type "${(task as { type: unknown }).type}"`)
    const { data, redundancy, requirements, signal } = task
    const job = isOp(task.kernel)
      ? m.submit({
          op: task.kernel,
          data,
          imm: task.params?.imm as number | undefined,
          key: task.params?.key as Uint8Array | undefined,
          redundancy,
          policy: task.policy,
          requirements,
          signal,
        })
      : m.startJob({ kernel: task.kernel, data, params: task.params, redundancy, requirements, signal }, task.policy)
    return { ...base, ...(await job.result), id: task.id }
  } catch (err) {
    const e = err as Error
    return {
      ...base,
      success: false,
      error: { name: e.name, message: e.message },
      executionTimeMs: performance.now() - t0,
    }
  }
}
