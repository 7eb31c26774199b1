import { GpuDeviceLostError, GpuUnavailableError } from '../errors.js'
import { OPS, type Op } from '../ops.js'
import type { GpuExecutor, GpuOp, WgslTask } from './gpu/gpu-executor.js'
import { MAP_KERNEL } from './mesh/map/batch-codec.js'
import { type ContentPin, isRangeInput } from './range-fetch.js'
import { checkUrl } from './url-policy.js'
import type { PoolStats, RunOptions, WorkerPool } from './worker-pool.js'

/** Where a task ran on this machine. */
export type LocalSubstrate = 'cpu' | 'webgpu'

/** Options of LocalCompute. */
export interface LocalComputeInit {
  /** The CPU worker pool. */
  pool: WorkerPool
  /** The WebGPU executor, where the platform has WebGPU. */
  gpu?: GpuExecutor
  /** Default true; false keeps every task on the CPU. */
  enableWebGPU?: boolean
}

/** Per-task options: the pool's, plus where the task would rather run. */
export interface LocalRunOptions extends RunOptions {
  /** `'gpu'` asks for WebGPU for counteq/xor/add; without it the CPU serves (default `'cpu'`). */
  prefer?: 'cpu' | 'gpu'
}

const GPU_OPS: ReadonlySet<string> = new Set<GpuOp>(['counteq', 'xor', 'add'])

/**
 * A peer's own compute: built-in and registered kernels on the worker pool,
 * counteq/xor/add on WebGPU when asked, and WGSL tasks. Built-ins give the same
 * result wherever they run: with WebGPU disabled, missing or lost, the CPU runs them.
 */
export class LocalCompute {
  private readonly pool: WorkerPool
  private readonly gpu?: GpuExecutor
  private gpuUsable: boolean

  constructor(init: LocalComputeInit) {
    this.pool = init.pool
    this.gpu = init.gpu
    this.gpuUsable = (init.enableWebGPU ?? true) && init.gpu !== undefined
  }

  /** True while WebGPU may be used (enabled, present, and an adapter was found when last tried). */
  get webgpu(): boolean {
    return this.gpuUsable
  }

  /** The pool's counters. */
  stats(): PoolStats {
    return this.pool.stats()
  }

  /** Workers in the pool (the most tasks it runs at once). */
  get maxWorkers(): number {
    return this.pool.maxWorkers
  }

  /** Every kernel this peer runs: the built-ins and those registered with the pool. */
  kernels(): string[] {
    return [...OPS, ...this.pool.registeredKernels().filter((k) => !(OPS as readonly string[]).includes(k))]
  }

  /** True if this peer runs kernel `name`. */
  hasKernel(name: string): boolean {
    // a map batch runs wherever its items' kernel runs (the worker says so if it does not)
    return (
      (OPS as readonly string[]).includes(name) || name === MAP_KERNEL || this.pool.registeredKernels().includes(name)
    )
  }

  /** Registers a kernel module with the pool (see `WorkerPool.registerKernel`). */
  registerKernel(name: string, moduleUrl: string): void {
    if (name === MAP_KERNEL) throw new TypeError(`"${MAP_KERNEL}" is reserved for map batches`)
    this.pool.registerKernel(name, moduleUrl)
  }

  /**
   * Runs kernel `kernel` over `input`; says where it ran and, for a URL range,
   * which version of the content it read (`validator`: pin the job's other
   * ranges to it). A URL this node's policy refuses is a `UrlNotAllowedError`,
   * whoever asked.
   */
  async run(
    kernel: Op | string,
    input: unknown,
    opts: LocalRunOptions = {},
  ): Promise<{ output: unknown; substrate: LocalSubstrate; validator?: ContentPin }> {
    if (isRangeInput(input)) {
      // refused here without a worker hop when the URL alone tells; the worker checks again, resolved addresses too
      checkUrl(input.url, this.pool.urlPolicy)
      const r = await this.pool.runWithValidator(kernel, input, opts)
      return { ...r, substrate: 'cpu' }
    }
    if (opts.prefer === 'gpu' && this.gpuUsable && this.gpu && GPU_OPS.has(kernel) && input instanceof Uint8Array) {
      try {
        const output = await this.gpu.runBuiltin(
          kernel as GpuOp,
          input,
          (opts.params ?? {}) as { imm?: number; key?: Uint8Array },
          opts.signal,
        )
        return { output, substrate: 'webgpu' }
      } catch (err) {
        if (err instanceof GpuUnavailableError) this.gpuUsable = false
        else if (!(err instanceof GpuDeviceLostError)) throw err
        // no adapter, or the device went away mid-task: the CPU gives the same result
      }
    }
    return { output: await this.pool.run(kernel, input, opts), substrate: 'cpu' }
  }

  /** Runs a WGSL task; `GpuUnavailableError` where WebGPU is disabled or missing. */
  runWgsl(task: WgslTask, signal?: AbortSignal): Promise<Uint8Array> {
    if (!this.gpu || !this.gpuUsable)
      return Promise.reject(new GpuUnavailableError('WebGPU is disabled or not available here'))
    return this.gpu.runWgsl(task, signal)
  }

  /** Stops the pool and the GPU executor. */
  async stop(): Promise<void> {
    await Promise.all([this.pool.stop(), this.gpu?.stop()])
  }
}
