import * as kernels from '@peercompute/kernels'
import { afterAll, describe, expect, it } from 'vitest'
import { GpuExecutor } from '../../core/compute/gpu/gpu-executor.js'
import { createNodeGpu } from './node-gpu.js'

const gpu = await createNodeGpu()
const adapter = await gpu?.requestAdapter()
const required = process.env.PEERCOMPUTE_REQUIRE_GPU === '1'
if (!adapter && required)
  throw new Error('PEERCOMPUTE_REQUIRE_GPU=1 but no WebGPU adapter (install libvulkan1 and chromium)')

const bytes = (n: number, seed: number) =>
  Uint8Array.from({ length: n }, (_, i) => (Math.imul(i + seed, 2654435761) >>> 13) & 0xff)

describe.skipIf(!adapter)('GpuExecutor on WebGPU (Dawn; SwiftShader without a GPU)', () => {
  const gx = new GpuExecutor({ gpu: gpu as GPU })
  afterAll(() => gx.stop())

  it('counteq, xor and add equal the CPU kernels at awkward lengths', async () => {
    for (const [n, imm] of [
      [0, 0],
      [1, 7],
      [5, 0],
      [4099, 255],
      [1_000_003, 13],
    ]) {
      const d = bytes(n, n)
      expect(await gx.runBuiltin('counteq', d, { imm }), `counteq n=${n}`).toBe(kernels.counteq(d, imm))
      expect(await gx.runBuiltin('add', d, { imm }), `add n=${n}`).toEqual(kernels.add(d, imm))
      expect(await gx.runBuiltin('xor', d, { imm }), `xor n=${n}`).toEqual(kernels.xor(d, imm))
      const key = bytes(7, 99)
      expect(await gx.runBuiltin('xor', d, { key }), `xor key n=${n}`).toEqual(kernels.xor(d, key))
    }
  })

  it('runs a general WGSL task and reads back its output binding', async () => {
    const input = Uint32Array.from({ length: 1000 }, (_, i) => i * 3)
    const out = await gx.runWgsl({
      shader: `
        @group(0) @binding(0) var<storage, read> src: array<u32>;
        @group(0) @binding(1) var<storage, read_write> dst: array<u32>;
        @compute @workgroup_size(64)
        fn main(@builtin(global_invocation_id) id: vec3u) {
          if (id.x < arrayLength(&src)) { dst[id.x] = src[id.x] * 2u + 1u; }
        }`,
      workgroups: [Math.ceil(1000 / 64)],
      bindings: [
        { binding: 0, kind: 'storage-read', data: new Uint8Array(input.buffer) },
        { binding: 1, kind: 'storage', size: 4000 },
      ],
      output: { binding: 1, size: 4000 },
    })
    expect([...new Uint32Array(out.buffer, out.byteOffset, 1000)]).toEqual([...input].map((x) => x * 2 + 1))
  })

  it('a bad shader is a GpuValidationError naming the problem; the executor keeps working', async () => {
    const task = {
      shader: '@compute @workgroup_size(1) fn main() { let x: u32 = undefined_thing; }',
      workgroups: [1] as [number],
      bindings: [{ binding: 0, kind: 'storage' as const, size: 4 }],
      output: { binding: 0, size: 4 },
    }
    await expect(gx.runWgsl(task)).rejects.toMatchObject({
      name: 'GpuValidationError',
      message: expect.stringMatching(/undefined_thing/),
    })
    await expect(gx.runWgsl({ ...task, workgroups: [0] })).rejects.toThrow(RangeError)
    await expect(gx.runWgsl({ ...task, output: { binding: 3, size: 4 } })).rejects.toThrow(/not one of the bindings/)
    expect(await gx.runBuiltin('counteq', Uint8Array.of(1, 1, 2), { imm: 1 })).toBe(2)
  })

  it('recovers from a lost device with a new one', async () => {
    const device = await (gx as unknown as { device: Promise<GPUDevice> }).device
    device.destroy()
    await device.lost
    expect(await gx.runBuiltin('add', Uint8Array.of(1, 2, 3), { imm: 1 })).toEqual(Uint8Array.of(2, 3, 4))
    const again = await (gx as unknown as { device: Promise<GPUDevice> }).device
    expect(again).not.toBe(device)
  })

  it('stop() destroys the device; later tasks fail with GpuUnavailableError', async () => {
    const g2 = new GpuExecutor({ gpu: gpu as GPU })
    await g2.runBuiltin('add', Uint8Array.of(1), { imm: 1 })
    const device = await (g2 as unknown as { device: Promise<GPUDevice> }).device
    await g2.stop()
    expect((await device.lost).reason).toBe('destroyed')
    await expect(g2.runBuiltin('add', Uint8Array.of(1), { imm: 1 })).rejects.toMatchObject({
      name: 'GpuUnavailableError',
    })
  })
})
