import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { GpuExecutor } from '../../core/compute/gpu/gpu-executor.js'
import { GpuUnavailableError } from '../../core/errors.js'
import { gpuMayExist } from './node-gpu.js'

/** A fake /dev: folder name to entries. */
const dev = (tree: Record<string, string[]>) => (dir: string) => tree[dir] ?? []

describe('gpuMayExist: a GPU driver is looked for without loading Dawn', () => {
  const linux = { platform: 'linux' as const, env: {} }

  it('is false on Linux with no render node, no NVIDIA device and no driver in the environment', () => {
    expect(gpuMayExist({ ...linux, list: dev({ '/dev': ['null', 'tty', 'nvidiactl-not'], '/dev/dri': [] }) })).toBe(
      false,
    )
    expect(gpuMayExist({ ...linux, list: dev({ '/dev/dri': ['card0'] }) })).toBe(false)
    expect(gpuMayExist({ ...linux, env: { VK_ICD_FILENAMES: '' }, list: dev({}) })).toBe(false)
  })

  it('is true for a DRM render node, an NVIDIA device or WSL’s dxg', () => {
    expect(gpuMayExist({ ...linux, list: dev({ '/dev/dri': ['card0', 'renderD128'] }) })).toBe(true)
    expect(gpuMayExist({ ...linux, list: dev({ '/dev': ['nvidiactl', 'nvidia0'] }) })).toBe(true)
    expect(gpuMayExist({ ...linux, list: dev({ '/dev': ['dxg'] }) })).toBe(true)
  })

  it('is true where the environment names a Vulkan driver (a software one such as SwiftShader)', () => {
    for (const k of ['VK_ICD_FILENAMES', 'VK_DRIVER_FILES', 'VK_ADD_DRIVER_FILES'])
      expect(gpuMayExist({ ...linux, env: { [k]: '/usr/lib/chromium/vk_swiftshader_icd.json' }, list: dev({}) })).toBe(
        true,
      )
  })

  it('is true on macOS and Windows, false on platforms Dawn is not built for', () => {
    expect(gpuMayExist({ platform: 'darwin', env: {}, list: dev({}) })).toBe(true)
    expect(gpuMayExist({ platform: 'win32', env: {}, list: dev({}) })).toBe(true)
    expect(gpuMayExist({ platform: 'freebsd', env: {}, list: dev({}) })).toBe(false)
  })
})

describe('GpuExecutor with a GPU made on demand', () => {
  it('makes the GPU at the first task, once, and not again after stop', async () => {
    let made = 0
    const gx = new GpuExecutor({
      gpu: async () => {
        made++
        return { requestAdapter: async () => null } as unknown as GPU
      },
    })
    expect(made).toBe(0)
    await expect(gx.runBuiltin('counteq', new Uint8Array(8), { imm: 0 })).rejects.toBeInstanceOf(GpuUnavailableError)
    await expect(gx.runBuiltin('xor', new Uint8Array(8), { imm: 1 })).rejects.toBeInstanceOf(GpuUnavailableError)
    expect(made).toBe(1)
    await gx.stop()
    await expect(gx.runBuiltin('counteq', new Uint8Array(8), { imm: 0 })).rejects.toThrow(/stopped/)
    expect(made).toBe(1)
  })

  it('a GPU that cannot be made (none, or the factory fails) is GpuUnavailableError', async () => {
    const none = new GpuExecutor({ gpu: async () => undefined })
    await expect(none.runBuiltin('add', new Uint8Array(4), { imm: 1 })).rejects.toBeInstanceOf(GpuUnavailableError)
    const failing = new GpuExecutor({
      gpu: async () => {
        throw new Error('dawn.node failed to load')
      },
    })
    await expect(failing.runBuiltin('add', new Uint8Array(4), { imm: 1 })).rejects.toBeInstanceOf(GpuUnavailableError)
    await Promise.all([none.stop(), failing.stop()])
  })
})

const run = promisify(execFile)
const BUILT = new URL('../../../dist/node/compute/node-gpu.js', import.meta.url)

/** A device used after its caller dropped the instance and collections ran; in a child (a crash is its exit code). */
const DROPPED_INSTANCE = `
const { createNodeGpu } = await import(process.argv[1])
const device = await (async () => {
  const adapter = await (await createNodeGpu())?.requestAdapter()
  return adapter ? adapter.requestDevice() : undefined
})()
if (!device) { console.log('no adapter'); process.exit(0) }
// collections, each followed by a turn of the event loop (where finalizers run)
for (let k = 0; k < 5; k++) { gc(); await new Promise((r) => setImmediate(r)) }
const src = Uint8Array.from({ length: 1 << 20 }, (_, i) => i * 7)
const buf = device.createBuffer({ size: src.length, usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC })
device.queue.writeBuffer(buf, 0, src)
gc()
const st = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST })
const enc = device.createCommandEncoder()
enc.copyBufferToBuffer(buf, 0, st, 0, 16)
device.queue.submit([enc.finish()])
await st.mapAsync(GPUMapMode.READ)
console.log('read', new Uint8Array(st.getMappedRange())[3])
device.destroy()
`

// a GPU driver (SwiftShader's, set by test/setup/vulkan.ts, or a real one) and the build the child imports
const required = process.env.PEERCOMPUTE_REQUIRE_GPU === '1'
const canRun = gpuMayExist() && existsSync(BUILT)
if (!canRun && required)
  throw new Error('PEERCOMPUTE_REQUIRE_GPU=1 but no Vulkan driver (chromium) or no build (npm run build)')

describe.skipIf(!canRun)('createNodeGpu (Dawn)', () => {
  it('a device outlives the instance its caller dropped: collections do not crash the process', async () => {
    // 139 (SIGSEGV) or a futex abort before the instance was pinned to its devices: execFile rejects
    const { stdout } = await run(
      process.execPath,
      ['--expose-gc', '--input-type=module', '-e', DROPPED_INSTANCE, BUILT.href],
      { timeout: 30_000 },
    )
    // where a GPU is required, finding no adapter is a failure too
    expect(stdout).toMatch(required ? /read 21/ : /read 21|no adapter/)
  })
})
