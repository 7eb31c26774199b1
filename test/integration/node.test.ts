import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { createNode } from 'peercompute'
import { afterAll, describe, expect, it } from 'vitest'
import { TEST_PEER } from './helpers.js'

const run = promisify(execFile)
const dir = mkdtempSync(join(tmpdir(), 'pc-node-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('a node: lifecycle and storage', () => {
  const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json'
  const gpuEnv = { ...process.env, VK_ICD_FILENAMES: process.env.VK_ICD_FILENAMES ?? SWIFTSHADER }
  const canGpu = existsSync(gpuEnv.VK_ICD_FILENAMES)
  it.each([
    ['without WebGPU', 'cpu'],
    ['with WebGPU (a device made and destroyed)', 'gpu'],
  ])('stop() releases everything %s: the process exits by itself with no handle left', async (_what, mode) => {
    const script = fileURLToPath(new URL('./fixtures/stop-clean.mjs', import.meta.url))
    // execFile's timeout kills the child by its pid if it hangs on a leaked handle
    const { stdout } = await run(process.execPath, [script, mode], { timeout: 30_000, env: gpuEnv })
    const out = JSON.parse(stdout.trim().split('\n').at(-1) as string)
    expect(out).toEqual({ registered: true, pieces: 3, gpu: mode === 'gpu' && canGpu, left: [] })
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
})
