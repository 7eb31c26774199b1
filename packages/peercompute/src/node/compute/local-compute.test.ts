import * as kernels from '@peercompute/kernels'
import { afterEach, describe, expect, it } from 'vitest'
import { GpuExecutor } from '../../core/compute/gpu/gpu-executor.js'
import { LocalCompute } from '../../core/compute/local-compute.js'
import { createNodeGpu } from './node-gpu.js'
import { createWorkerPool } from './node-worker-pool.js'

const gpu = await createNodeGpu()
const adapter = await gpu?.requestAdapter()

const data = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 31) & 0xff)
const running: LocalCompute[] = []
const make = (init: { gpu?: GpuExecutor; enableWebGPU?: boolean }) => {
  const lc = new LocalCompute({ pool: createWorkerPool({ maxWorkers: 1 }), ...init })
  running.push(lc)
  return lc
}
afterEach(async () => {
  await Promise.all(running.splice(0).map((l) => l.stop()))
})

describe('LocalCompute: WebGPU when asked and usable, else the CPU with the same result', () => {
  it('enableWebGPU: false keeps built-ins on the CPU, and WGSL tasks are refused', async () => {
    const lc = make({ gpu: gpu ? new GpuExecutor({ gpu }) : undefined, enableWebGPU: false })
    expect(await lc.run('add', data.slice(), { params: { imm: 5 }, prefer: 'gpu' })).toEqual({
      output: kernels.add(data, 5),
      substrate: 'cpu',
    })
    await expect(
      lc.runWgsl({ shader: 'x', workgroups: [1], bindings: [], output: { binding: 0, size: 0 } }),
    ).rejects.toMatchObject({
      name: 'GpuUnavailableError',
    })
  })

  it('no adapter: the CPU runs the task and WebGPU is not tried again', async () => {
    // a platform whose WebGPU has no adapter, as on a machine without a GPU or driver
    const noAdapter = { requestAdapter: async () => null } as unknown as GPU
    const lc = make({ gpu: new GpuExecutor({ gpu: noAdapter }) })
    expect(lc.webgpu).toBe(true)
    expect(await lc.run('counteq', data, { params: { imm: 3 }, prefer: 'gpu' })).toEqual({
      output: kernels.counteq(data, 3),
      substrate: 'cpu',
    })
    expect(lc.webgpu).toBe(false)
  })

  it.skipIf(!adapter)('runs on WebGPU when asked; a device lost mid-task falls back to the CPU', async () => {
    const gx = new GpuExecutor({ gpu: gpu as GPU })
    const lc = make({ gpu: gx })
    expect(await lc.run('xor', data, { params: { imm: 9 }, prefer: 'gpu' })).toEqual({
      output: kernels.xor(data, 9),
      substrate: 'webgpu',
    })
    const big = Uint8Array.from({ length: 8 << 20 }, (_, i) => i & 0xff)
    const task = lc.run('add', big, { params: { imm: 1 }, prefer: 'gpu' })
    const device = await (gx as unknown as { device: Promise<GPUDevice> }).device
    device.destroy()
    const r = await task
    expect(r.substrate).toBe('cpu')
    expect(kernels.crc32c(r.output as Uint8Array)).toBe(kernels.crc32c(kernels.add(big, 1)))
    // and the next GPU tasks get a new device, and buffers of their own on it (not the lost device's)
    expect(await lc.run('add', Uint8Array.of(1), { params: { imm: 1 }, prefer: 'gpu' })).toEqual({
      output: Uint8Array.of(2),
      substrate: 'webgpu',
    })
    expect(await lc.run('add', Uint8Array.of(1, 2, 3), { params: { imm: 1 }, prefer: 'gpu' })).toEqual({
      output: Uint8Array.of(2, 3, 4),
      substrate: 'webgpu',
    })
  })
})
