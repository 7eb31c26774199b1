/**
 * WebGPU for Node through the optional `webgpu` package (Dawn). Resolves to
 * undefined where the package or its native part is missing: callers then run
 * on the CPU. It uses the system's Vulkan driver; with none (a server without a
 * GPU) point `VK_ICD_FILENAMES` at a software one, e.g. the SwiftShader ICD that
 * Debian's chromium ships at /usr/lib/chromium/vk_swiftshader_icd.json.
 */
export async function createNodeGpu(): Promise<GPU | undefined> {
  try {
    const mod = (await import('webgpu')) as { create(flags: string[]): GPU; globals: Record<string, unknown> }
    // GPUBufferUsage and friends, where the platform lacks them
    for (const [k, v] of Object.entries(mod.globals)) if (!(k in globalThis)) Object.assign(globalThis, { [k]: v })
    return mod.create([])
  } catch {
    return undefined
  }
}
