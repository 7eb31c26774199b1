import type { CodeManifest } from '../../code/manifest.js'
import { isOp } from '../../ops.js'
import type { WgslTask } from '../gpu/gpu-executor.js'
import { encodeWgslTask, type RemoteWgslTask } from '../gpu/remote-wgsl.js'
import type { LocalCompute } from '../local-compute.js'
import type { RangeInput } from '../range-fetch.js'
import type { Job } from './job.js'
import type { JobInit, JobSpec, PieceReport } from './job-types.js'
import type { PolicyName, SchedulerPolicy } from './policies.js'
import { wgslResultProblem } from './result-check.js'

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
  /** WGSL source run on this node's own GPU. */
  | ({ id: string; type: 'webgpu'; signal?: AbortSignal } & WgslTask)
  /** A signed WGSL bundle (`code`: its name from `publish`) run on a peer with a GPU, placed like a data job's piece. */
  | ({ id: string; type: 'webgpu'; shader?: undefined } & RemoteWgslTask &
      Pick<SubmitSpec, 'redundancy' | 'policy' | 'requirements' | 'signal' | 'maxAttempts' | 'deadlineMs' | 'peers'>)

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
  /** The manifest of a bundle this node published (a WGSL task is checked against it before it leaves). */
  manifest?(name: string): CodeManifest | undefined
}

/**
 * Runs a task in the original README's shape: `kernel` tasks on the mesh;
 * `webgpu` tasks with `shader` on this node's GPU, with `code` (a signed WGSL
 * bundle) on the mesh's GPU peers only.
 */
export async function submitTask(m: TaskSubmitter, task: TaskSpec): Promise<TaskResult> {
  const t0 = performance.now()
  const base = { id: task.id, substrate: 'local', peers: [] as string[], costUsd: 0, pieces: [] as PieceReport[] }
  try {
    if (task.type === 'webgpu' && 'code' in task && task.code !== undefined) {
      const job = m.startJob(remoteWgslJob(task, m.manifest?.(task.code)), task.policy)
      return { ...base, ...(await job.result), id: task.id }
    }
    if (task.type === 'webgpu') {
      if (typeof task.shader !== 'string')
        throw new TypeError('a webgpu task needs shader (WGSL source) or code (a bundle)')
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

/** The job of a signed WGSL task: one piece, only on peers with a GPU, its result exactly the output's bytes. */
function remoteWgslJob(
  task: Extract<TaskSpec, { type: 'webgpu'; code: string }>,
  manifest: CodeManifest | undefined,
): JobInit {
  if (manifest && manifest.kind !== 'wgsl') throw new TypeError(`${task.code} is a ${manifest.kind} bundle, not WGSL`)
  const { params, data } = encodeWgslTask(task, manifest)
  const size = params.output.size
  return {
    kernel: task.code,
    data,
    params: params as unknown as Record<string, unknown>,
    requirements: { ...task.requirements, gpu: true },
    redundancy: task.redundancy,
    maxAttempts: task.maxAttempts,
    deadlineMs: task.deadlineMs,
    peers: task.peers,
    signal: task.signal,
    includeLocal: false,
    checkResult: (v) => wgslResultProblem(v, size),
  }
}
