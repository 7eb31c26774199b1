import { readdirSync } from 'node:fs'

/**
 * WebGPU for Node through the optional `webgpu` package (Dawn). Resolves to
 * undefined where the package or its native part is missing: callers then run
 * on the CPU. It uses the system's Vulkan driver; with none (a server without a
 * GPU) point `VK_ICD_FILENAMES` at a software one, e.g. the SwiftShader ICD that
 * Debian's chromium ships at /usr/lib/chromium/vk_swiftshader_icd.json.
 *
 * Each call makes a new Dawn instance. An instance with a device keeps the
 * process alive until the device is destroyed; the instance is kept while an
 * adapter or device made from it lives (see `pinned`), then freed once nothing
 * refers to it (the package has no destroy).
 */
export async function createNodeGpu(): Promise<GPU | undefined> {
  try {
    const mod = (await import('webgpu')) as { create(flags: string[]): GPU; globals: Record<string, unknown> }
    // GPUBufferUsage and friends, where the platform lacks them
    for (const [k, v] of Object.entries(mod.globals)) if (!(k in globalThis)) Object.assign(globalThis, { [k]: v })
    return pinned(mod.create([]))
  } catch {
    return undefined
  }
}

/** What keeps each Dawn instance alive: its adapters and devices, for as long as they live. */
const instanceOf = new WeakMap<object, GPU>()

/**
 * `gpu`, with its adapters and devices holding it: dawn.node crashes the
 * process (a segfault, or a futex error on SwiftShader) when an instance is
 * collected while a device made from it works, e.g. when a caller keeps only
 * the device. Seen with webgpu 0.6 on an NVIDIA H100 and on SwiftShader.
 */
function pinned(gpu: GPU): GPU {
  const requestAdapter = gpu.requestAdapter.bind(gpu)
  gpu.requestAdapter = async (options) => {
    const adapter = await requestAdapter(options)
    if (!adapter) return adapter
    instanceOf.set(adapter, gpu)
    const requestDevice = adapter.requestDevice.bind(adapter)
    adapter.requestDevice = async (descriptor) => {
      const device = await requestDevice(descriptor)
      instanceOf.set(device, gpu)
      return device
    }
    return adapter
  }
  return gpu
}

/** What `gpuMayExist` looks at; tests pass their own. */
export interface GpuPresenceProbe {
  env?: Record<string, string | undefined>
  platform?: NodeJS.Platform
  /** Names in a folder; empty where it cannot be read. */
  list?: (dir: string) => string[]
}

/** Vulkan loader settings that name a driver explicitly (a software one such as SwiftShader counts). */
const DRIVER_ENV = ['VK_ICD_FILENAMES', 'VK_DRIVER_FILES', 'VK_ADD_DRIVER_FILES'] as const

/**
 * True where a GPU driver may exist, found without loading Dawn (which prints
 * Vulkan warnings on stderr when there is none): on Linux a Vulkan driver named
 * in the environment, a DRM render node (`/dev/dri/renderD*`), an NVIDIA device
 * (`/dev/nvidia0`...) or WSL's `/dev/dxg`. macOS and Windows always have one.
 */
export function gpuMayExist(probe: GpuPresenceProbe = {}): boolean {
  const env = probe.env ?? process.env
  const platform = probe.platform ?? process.platform
  const list = probe.list ?? listDir
  if (platform !== 'linux') return platform === 'darwin' || platform === 'win32'
  if (DRIVER_ENV.some((k) => (env[k] ?? '') !== '')) return true
  if (list('/dev/dri').some((n) => n.startsWith('renderD'))) return true
  return list('/dev').some((n) => /^nvidia\d+$/.test(n) || n === 'dxg')
}

/**
 * True if Dawn finds a WebGPU adapter here. Looks only where `gpuMayExist`; the
 * instance it makes is dropped at once (no device is made, so it holds nothing).
 */
export async function nodeGpuAvailable(probe?: GpuPresenceProbe): Promise<boolean> {
  if (!gpuMayExist(probe)) return false
  const gpu = await createNodeGpu()
  const adapter = await gpu?.requestAdapter().catch(() => null)
  return adapter != null
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir)
  } catch {
    return []
  }
}
