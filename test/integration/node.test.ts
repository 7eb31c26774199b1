import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createNode } from 'peercompute'
import { afterAll, describe, expect, it } from 'vitest'
import { SWIFTSHADER_ICD } from '../setup/vulkan.js'
import { TEST_PEER } from './helpers.js'

const run = promisify(execFile)
const dir = mkdtempSync(join(tmpdir(), 'pc-node-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('a node: lifecycle and storage', () => {
  const gpuEnv = { ...process.env, VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? SWIFTSHADER_ICD }
  const canGpu = existsSync(gpuEnv.VK_ICD_FILENAMES)
  it.each([
    ['without WebGPU', 'cpu'],
    ['with WebGPU (a device made and destroyed)', 'gpu'],
  ])('stop() releases everything %s: the process exits by itself', async (_what, mode) => {
    const script = fileURLToPath(new URL('./fixtures/stop-clean.mjs', import.meta.url))
    // execFile's timeout kills the child by its pid if a leaked handle keeps it alive: then this rejects
    const { stdout } = await run(process.execPath, [script, mode], { timeout: 45_000, env: gpuEnv })
    const out = JSON.parse(stdout.trim().split('\n').at(-1) as string)
    expect(out).toEqual({ registered: true, pieces: 3, gpu: mode === 'gpu' && canGpu })
  })

  it("storageMode 'local' keeps the shared state across a restart", async () => {
    const opts = {
      ...TEST_PEER,
      relays: [],
      enableWebGPU: false,
      maxWorkers: 1,
      storageMode: 'local' as const,
      storageDir: dir,
    }
    const a = await createNode(opts)
    await a.start()
    a.state.map('settings').set('greeting', 'hello')
    a.state.text('notes').insert(0, 'kept')
    expect(a.getStatus().storageMode).toBe('local')
    await a.stop()
    const b = await createNode(opts)
    await b.start()
    try {
      expect(b.state.map('settings').get('greeting')).toBe('hello')
      expect(b.state.text('notes').toString()).toBe('kept')
    } finally {
      await b.stop()
    }
    const c = await createNode({ ...opts, storageMode: 'memory' })
    await c.start()
    expect(c.state.map('settings').get('greeting')).toBeUndefined()
    await c.stop()
  })

  it('a stopped node cannot start again', async () => {
    const n = await createNode({ ...TEST_PEER, relays: [], enableWebGPU: false, maxWorkers: 1 })
    await n.start()
    await n.stop()
    await expect(n.start()).rejects.toThrow(/stopped node/)
  })

  it.skipIf(!canGpu)('submitTask runs a WGSL task on the node’s own GPU', async () => {
    process.env.VK_ICD_FILENAMES = gpuEnv.VK_ICD_FILENAMES
    const n = await createNode({ ...TEST_PEER, relays: [], maxWorkers: 1 })
    await n.start()
    try {
      const input = Uint32Array.from([1, 2, 3, 4])
      const res = await n.submitTask({
        id: 'wgsl-1',
        type: 'webgpu',
        shader: `@group(0) @binding(0) var<storage, read_write> v: array<u32>;
          @compute @workgroup_size(4) fn main(@builtin(global_invocation_id) id: vec3u) { v[id.x] = v[id.x] * 10u; }`,
        workgroups: [1],
        bindings: [{ binding: 0, kind: 'storage', data: new Uint8Array(input.buffer) }],
        output: { binding: 0, size: 16 },
      })
      expect(res.success, JSON.stringify(res.error)).toBe(true)
      expect([...new Uint32Array((res.result as Uint8Array).slice().buffer)]).toEqual([10, 20, 30, 40])
      expect(res.substrate).toBe('webgpu')
      const cpuOnly = await createNode({ ...TEST_PEER, relays: [], maxWorkers: 1, enableWebGPU: false })
      const refused = await cpuOnly.submitTask({
        id: 'wgsl-2',
        type: 'webgpu',
        shader: '',
        workgroups: [1],
        bindings: [],
        output: { binding: 0, size: 0 },
      })
      expect(refused).toMatchObject({ success: false, error: { name: 'GpuUnavailableError' } })
      await cpuOnly.stop()
    } finally {
      await n.stop()
    }
  })
})
