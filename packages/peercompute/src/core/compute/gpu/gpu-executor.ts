import {
  AbortError,
  GpuDeviceLostError,
  GpuUnavailableError,
  GpuValidationError,
  PayloadTooLargeError,
} from '../../errors.js'
import { BufferPool } from './buffer-pool.js'
import { ADD_WGSL, COUNTEQ_WGSL, WORKGROUP_SIZE, XOR_WGSL } from './shaders.js'

/** The GPU built-ins: the element-wise and counting kernels. */
export type GpuOp = 'counteq' | 'xor' | 'add'

/** One binding of a WGSL task, all in `@group(0)`. */
export interface WgslBinding {
  binding: number
  /** `storage-read`: `var<storage, read>`; `storage`: `read_write`; `uniform`: `var<uniform>`. */
  kind: 'storage-read' | 'storage' | 'uniform'
  /** Initial contents; omitted means `size` zero bytes. */
  data?: Uint8Array
  /** Bytes (default `data.length`); rounded up to 4. */
  size?: number
}

/** A general WGSL compute task, as in `{ type: 'webgpu', shader, ... }`. */
export interface WgslTask {
  shader: string
  /** Default `main`. */
  entryPoint?: string
  /** Workgroups to dispatch in x, y, z. */
  workgroups: [number, number?, number?]
  bindings: WgslBinding[]
  /** The binding read back as the result, and how many bytes of it. */
  output: { binding: number; size: number }
}

/** Options of a GpuExecutor. */
export interface GpuExecutorInit {
  /**
   * `navigator.gpu` in a browser; in Node a function that makes the GPU when
   * the first task needs it (`createNodeGpu`, Dawn) and undefined where there
   * is none. What the function made is dropped on stop.
   */
  gpu: GPU | (() => Promise<GPU | undefined>)
  /** Largest input or output of one task in bytes (default 256 MiB). */
  maxBytes?: number
}

const DEFAULT_MAX_BYTES = 256 << 20

/**
 * Runs WGSL on one WebGPU device: the built-in counteq/xor/add and general WGSL
 * tasks. The device is acquired once; if it is lost, running tasks fail with
 * `GpuDeviceLostError` and the next task acquires a new one. Buffers are pooled.
 * Shaders come from the local host only: the mesh's trust rules are elsewhere.
 */
export class GpuExecutor {
  private readonly source: GpuExecutorInit['gpu']
  private gpu?: Promise<GPU | undefined>
  private readonly maxBytes: number
  private device?: Promise<GPUDevice>
  private readonly pipelines = new Map<string, GPUComputePipeline>()
  private readonly pool = new BufferPool()
  private stopped = false
  /** Bumped on device loss: work started on an older device fails. */
  private generation = 0

  constructor(init: GpuExecutorInit) {
    this.source = init.gpu
    this.maxBytes = init.maxBytes ?? DEFAULT_MAX_BYTES
  }

  /** Runs a built-in kernel; results equal the CPU kernels'. */
  async runBuiltin(
    op: GpuOp,
    data: Uint8Array,
    params: { imm?: number; key?: Uint8Array },
    signal?: AbortSignal,
  ): Promise<number | Uint8Array> {
    this.checkSize('input', data.length)
    if (data.length === 0) return op === 'counteq' ? 0 : new Uint8Array(0)
    const device = await this.acquire(signal)
    const gen = this.generation
    const max = Math.min(device.limits.maxStorageBufferBindingSize, 128 << 20) & ~0xfff
    const out = op === 'counteq' ? undefined : new Uint8Array(data.length)
    let count = 0
    for (let off = 0; off < data.length; off += max) {
      const chunk = data.subarray(off, off + max)
      if (op === 'counteq') count += await this.counteqChunk(device, chunk, params.imm ?? 0, gen, signal)
      else
        await this.mapChunk(
          device,
          op,
          chunk,
          params,
          (out as Uint8Array).subarray(off, off + chunk.length),
          off,
          gen,
          signal,
        )
    }
    return out ?? count
  }

  /** Runs a general WGSL task and returns the bytes of its output binding. */
  async runWgsl(task: WgslTask, signal?: AbortSignal): Promise<Uint8Array> {
    validateTask(task, this.maxBytes)
    const device = await this.acquire(signal)
    const gen = this.generation
    device.pushErrorScope('validation')
    const module = device.createShaderModule({ code: task.shader })
    const pipeline = device.createComputePipeline({
      layout: 'auto',
      compute: { module, entryPoint: task.entryPoint ?? 'main' },
    })
    const compileError = await device.popErrorScope()
    if (compileError) {
      const info = await module.getCompilationInfo()
      const detail = info.messages.map((m) => `${m.lineNum}:${m.linePos} ${m.type}: ${m.message}`).join('\n')
      throw new GpuValidationError(`WGSL task rejected: ${compileError.message}${detail ? `\n${detail}` : ''}`)
    }
    const buffers = new Map<number, GPUBuffer>()
    try {
      device.pushErrorScope('validation')
      device.pushErrorScope('out-of-memory')
      for (const b of task.bindings) {
        const size = align4(b.size ?? b.data?.length ?? 0)
        const usage =
          (b.kind === 'uniform' ? GPUBufferUsage.UNIFORM : GPUBufferUsage.STORAGE) |
          GPUBufferUsage.COPY_DST |
          GPUBufferUsage.COPY_SRC
        const buf = device.createBuffer({ size: Math.max(size, 4), usage })
        if (b.data) writeBytes(device, buf, b.data)
        buffers.set(b.binding, buf)
      }
      const bindGroup = device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: task.bindings.map((b) => ({
          binding: b.binding,
          resource: { buffer: buffers.get(b.binding) as GPUBuffer },
        })),
      })
      const [x, y = 1, z = 1] = task.workgroups
      const result = new Uint8Array(task.output.size)
      await this.submitAndRead(
        device,
        pipeline,
        bindGroup,
        [x, y, z],
        buffers.get(task.output.binding) as GPUBuffer,
        result,
        gen,
        signal,
        async () => {
          // both popped at once: another task's scopes may be pushed while this one awaits
          const [oom, invalid] = await Promise.all([device.popErrorScope(), device.popErrorScope()])
          const e = oom ?? invalid
          if (e) throw new GpuValidationError(`WGSL task failed: ${e.message}`)
        },
      )
      return result
    } finally {
      for (const b of buffers.values()) b.destroy()
    }
  }

  /** Destroys pooled buffers and the device, and drops the GPU it made. */
  async stop(): Promise<void> {
    this.stopped = true
    this.pool.reset()
    this.pipelines.clear()
    const d = this.device
    this.device = undefined
    if (d) (await d.catch(() => undefined))?.destroy()
    // Dawn's instance has no destroy: with its device gone, dropping it lets it be collected
    this.gpu = undefined
  }

  private acquire(signal?: AbortSignal): Promise<GPUDevice> {
    if (this.stopped) return Promise.reject(new GpuUnavailableError('the GPU executor is stopped'))
    if (signal?.aborted) return Promise.reject(new AbortError('aborted'))
    this.device ??= (async () => {
      const source = this.source
      // a GPU that cannot be made is no GPU: tasks then fail with GpuUnavailableError (the CPU takes over)
      this.gpu ??= typeof source === 'function' ? source().catch(() => undefined) : Promise.resolve(source)
      const gpu = await this.gpu
      if (!gpu) throw new GpuUnavailableError('no WebGPU here')
      const adapter = await gpu.requestAdapter()
      if (!adapter) throw new GpuUnavailableError('no WebGPU adapter')
      const device = await adapter.requestDevice({
        requiredLimits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize },
      })
      void device.lost.then(() => {
        // drop the device; the next task makes a new one
        this.generation++
        this.pipelines.clear()
        this.pool.reset()
        this.device = undefined
      })
      this.pool.reset(device)
      return device
    })()
    const p = this.device
    p.catch(() => {
      if (this.device === p) this.device = undefined
    })
    return p
  }

  private pipeline(device: GPUDevice, op: GpuOp): GPUComputePipeline {
    let p = this.pipelines.get(op)
    if (!p) {
      const code = op === 'counteq' ? COUNTEQ_WGSL : op === 'add' ? ADD_WGSL : XOR_WGSL
      p = device.createComputePipeline({
        layout: 'auto',
        compute: { module: device.createShaderModule({ code }), entryPoint: 'main' },
      })
      this.pipelines.set(op, p)
    }
    return p
  }

  private params(device: GPUDevice, n: number, imm: number, keyLen: number, phase: number): GPUBuffer {
    const b = this.pool.take(device, 16, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST)
    device.queue.writeBuffer(b, 0, new Uint32Array([n, imm, keyLen, phase]))
    return b
  }

  private async counteqChunk(
    device: GPUDevice,
    chunk: Uint8Array,
    imm: number,
    gen: number,
    signal?: AbortSignal,
  ): Promise<number> {
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC
    const params = this.params(device, chunk.length, imm, 0, 0)
    const data = this.pool.take(device, align4(chunk.length), usage)
    const total = this.pool.take(device, 4, usage)
    try {
      writeBytes(device, data, chunk)
      device.queue.writeBuffer(total, 0, new Uint32Array([0]))
      const count = new Uint8Array(4)
      await this.runBuiltinPass(device, 'counteq', [params, data, total], chunk.length, total, count, gen, signal)
      return new DataView(count.buffer).getUint32(0, true)
    } finally {
      this.pool.give(device, params, data, total)
    }
  }

  private async mapChunk(
    device: GPUDevice,
    op: 'xor' | 'add',
    chunk: Uint8Array,
    p: { imm?: number; key?: Uint8Array },
    out: Uint8Array,
    at: number,
    gen: number,
    signal?: AbortSignal,
  ): Promise<void> {
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC
    const key = p.key ?? Uint8Array.of(p.imm ?? 0)
    const params = this.params(device, chunk.length, p.imm ?? 0, key.length, at % key.length)
    const data = this.pool.take(device, align4(chunk.length), usage)
    const keyBuf = op === 'xor' ? this.pool.take(device, key.length * 4, usage) : undefined
    try {
      writeBytes(device, data, chunk)
      if (keyBuf) device.queue.writeBuffer(keyBuf, 0, Uint32Array.from(key))
      const buffers = [params, data, ...(keyBuf ? [keyBuf] : [])]
      // the result is copied from the mapped staging buffer straight to its place in the output
      await this.runBuiltinPass(device, op, buffers, chunk.length, data, out, gen, signal)
    } finally {
      this.pool.give(device, params, data, ...(keyBuf ? [keyBuf] : []))
    }
  }

  /**
   * One pass of a built-in shader: `buffers` bound in order (binding 0, 1, ...),
   * one invocation per word of `bytes`; `into` gets the first bytes of `readFrom`.
   */
  private runBuiltinPass(
    device: GPUDevice,
    op: GpuOp,
    buffers: GPUBuffer[],
    bytes: number,
    readFrom: GPUBuffer,
    into: Uint8Array,
    gen: number,
    signal?: AbortSignal,
  ): Promise<void> {
    const pipeline = this.pipeline(device, op)
    const bindGroup = device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    })
    return this.submitAndRead(
      device,
      pipeline,
      bindGroup,
      [workgroups(bytes, device), 1, 1],
      readFrom,
      into,
      gen,
      signal,
    )
  }

  /**
   * Dispatches, copies `src` to a staging buffer, maps it and copies its first
   * `into.length` bytes into `into` (once: from the mapped range to where they belong).
   */
  private async submitAndRead(
    device: GPUDevice,
    pipeline: GPUComputePipeline,
    bindGroup: GPUBindGroup,
    [x, y, z]: [number, number, number],
    src: GPUBuffer,
    into: Uint8Array,
    gen: number,
    signal?: AbortSignal,
    beforeRead?: () => Promise<void>,
  ): Promise<void> {
    const padded = Math.max(4, align4(into.length))
    const staging = this.pool.take(device, padded, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST)
    try {
      const enc = device.createCommandEncoder()
      const pass = enc.beginComputePass()
      pass.setPipeline(pipeline)
      pass.setBindGroup(0, bindGroup)
      pass.dispatchWorkgroups(x, y, z)
      pass.end()
      enc.copyBufferToBuffer(src, 0, staging, 0, padded)
      device.queue.submit([enc.finish()])
      await beforeRead?.()
      if (signal?.aborted) throw new AbortError('aborted')
      try {
        await staging.mapAsync(GPUMapMode.READ, 0, padded)
      } catch (err) {
        if (gen !== this.generation) throw new GpuDeviceLostError('the GPU device was lost during the task')
        throw err
      }
      try {
        into.set(new Uint8Array(staging.getMappedRange(0, padded), 0, into.length))
      } finally {
        staging.unmap()
      }
    } finally {
      this.pool.give(device, staging)
    }
  }

  private checkSize(what: string, n: number): void {
    if (n > this.maxBytes)
      throw new PayloadTooLargeError(`${what} is ${n} bytes; the GPU executor takes at most ${this.maxBytes}`)
  }
}

function workgroups(bytes: number, device: GPUDevice): number {
  const words = Math.ceil(bytes / 4)
  return Math.max(1, Math.min(Math.ceil(words / WORKGROUP_SIZE), device.limits.maxComputeWorkgroupsPerDimension))
}

const align4 = (n: number) => (n + 3) & ~3

/**
 * Writes `data` at the start of `buf` without a copy of it: writeBuffer takes
 * sizes in multiples of 4 (and copies what it is given), so only a ragged tail
 * of 1-3 bytes goes through a padded word of its own.
 */
function writeBytes(device: GPUDevice, buf: GPUBuffer, data: Uint8Array): void {
  const whole = data.length & ~3
  if (whole > 0) device.queue.writeBuffer(buf, 0, data as Uint8Array<ArrayBuffer>, 0, whole)
  if (whole < data.length) {
    const tail = new Uint8Array(4)
    tail.set(data.subarray(whole))
    device.queue.writeBuffer(buf, whole, tail)
  }
}

function validateTask(t: WgslTask, maxBytes: number): void {
  if (typeof t?.shader !== 'string' || t.shader.length === 0) throw new TypeError('task.shader must be WGSL source')
  const [x, y = 1, z = 1] = t.workgroups ?? []
  for (const [name, v] of [
    ['x', x],
    ['y', y],
    ['z', z],
  ] as const) {
    if (!Number.isInteger(v) || v < 1 || v > 65535)
      throw new RangeError(`task.workgroups ${name} must be an integer 1..65535, got ${v}`)
  }
  if (!Array.isArray(t.bindings) || t.bindings.length === 0)
    throw new TypeError('task.bindings must be a non-empty array')
  const seen = new Set<number>()
  let total = 0
  for (const b of t.bindings) {
    if (!Number.isInteger(b.binding) || b.binding < 0 || seen.has(b.binding))
      throw new RangeError(`binding numbers must be distinct integers ≥ 0, got ${b.binding}`)
    seen.add(b.binding)
    if (!['storage-read', 'storage', 'uniform'].includes(b.kind))
      throw new TypeError(`binding ${b.binding}: unknown kind ${b.kind}`)
    if (b.data !== undefined && !(b.data instanceof Uint8Array))
      throw new TypeError(`binding ${b.binding}: data must be a Uint8Array`)
    const size = b.size ?? b.data?.length ?? 0
    if (!Number.isInteger(size) || size < 0) throw new RangeError(`binding ${b.binding}: size must be an integer ≥ 0`)
    total += size
  }
  if (total > maxBytes) throw new PayloadTooLargeError(`task bindings total ${total} bytes; at most ${maxBytes}`)
  const out = t.bindings.find((b) => b.binding === t.output?.binding)
  if (!out) throw new RangeError(`task.output.binding ${t.output?.binding} is not one of the bindings`)
  if (!Number.isInteger(t.output.size) || t.output.size < 0 || t.output.size > (out.size ?? out.data?.length ?? 0)) {
    throw new RangeError(`task.output.size must be 0..${out.size ?? out.data?.length ?? 0}`)
  }
}
