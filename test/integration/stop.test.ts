import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { gpuMayExist } from 'peercompute'
import { describe, expect, it } from 'vitest'
import { SWIFTSHADER_ICD } from '../setup/vulkan.js'

const FIXTURE = fileURLToPath(new URL('./fixtures/stop-default.mjs', import.meta.url))
const RUNS = 20
const AT_ONCE = 4

/** Runs the fixture; a child that outlives `killAfterMs` is killed by its pid and reported as such. */
function runChild(env: NodeJS.ProcessEnv, killAfterMs: number) {
  return new Promise<{ code: number | null; killed: boolean; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let killed = false
    child.stdout.on('data', (b: Buffer) => {
      stdout += b
    })
    child.stderr.on('data', (b: Buffer) => {
      stderr += b
    })
    const timer = setTimeout(() => {
      killed = true
      child.kill('SIGKILL')
    }, killAfterMs)
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, killed, stdout, stderr })
    })
  })
}

describe('stop() leaves nothing behind', () => {
  // no GPU driver named: on a machine without a GPU device Dawn is never loaded, so nothing may be printed
  const env = { ...process.env }
  for (const k of ['VK_ICD_FILENAMES', 'VK_DRIVER_FILES', 'VK_ADD_DRIVER_FILES']) delete env[k]
  const noGpu = !gpuMayExist({ env })
  // every other run with a software GPU driver where there is one: the nodes then find WebGPU and must still exit
  const gpuEnv = existsSync(SWIFTSHADER_ICD) ? { ...env, VK_ICD_FILENAMES: SWIFTSHADER_ICD } : env

  it(`two nodes on default options and a relay sync, stop, and their process exits by itself (${RUNS} runs)`, async () => {
    const results: Awaited<ReturnType<typeof runChild>>[] = []
    for (let i = 0; i < RUNS; i += AT_ONCE) {
      // the child's own guard ends a run that cannot sync at 30 s; past that, only a leaked handle keeps it alive
      const batch = Array.from({ length: Math.min(AT_ONCE, RUNS - i) }, (_, j) =>
        runChild((i + j) % 2 ? gpuEnv : env, 45_000),
      )
      results.push(...(await Promise.all(batch)))
    }
    for (const [i, r] of results.entries()) {
      const what = `run ${i}: ${r.stdout}${r.stderr}`
      expect(r.killed, `${what}: still alive after stopping`).toBe(false)
      expect(r.code, what).toBe(0)
      const out = JSON.parse(r.stdout.trim().split('\n').at(-1) as string)
      expect(out.synced, what).toBe(true)
      // CI has the software driver: there the nodes of the odd runs must have found WebGPU
      if (i % 2 === 1 && process.env.PEERCOMPUTE_REQUIRE_GPU === '1') expect(out.gpu, what).toEqual([true, true])
      if (noGpu && i % 2 === 0) {
        expect(out.gpu, what).toEqual([false, false])
        expect(r.stderr, `run ${i}: printed on stderr without a GPU`).toBe('')
      }
    }
    expect(results).toHaveLength(RUNS)
  }, 600_000)
})
