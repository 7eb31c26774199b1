import { describe, expect, it } from 'vitest'
import type { TaskRequestHeader } from '../../../wire/task.js'
import { resolveLimits } from './limits.js'
import { type RunEnv, runTask, type TaskRunner } from './run-task.js'
import { Slots } from './slots.js'

/** A runner whose URL tasks finish only when the test says so. */
function slowRunner() {
  const started: Array<{ url: string; finish: (n: number) => void }> = []
  const runner: TaskRunner = {
    maxWorkers: 4,
    hasKernel: () => true,
    run: (_k, input) =>
      new Promise((resolve) => {
        const { url } = input as { url: string }
        started.push({ url, finish: (n) => resolve({ output: n, substrate: 'cpu' }) })
      }),
  }
  return { runner, started }
}

const urlTask = (n: number): TaskRequestHeader => ({
  kernel: 'crc32c',
  source: { kind: 'url', url: `https://data.example/${n}`, offset: 0, length: 10 },
  deadlineMs: 1000,
})

describe('runTask', () => {
  it('URL tasks take at most their share of the pool; a waiting one that aborts leaves its place', async () => {
    const { runner, started } = slowRunner()
    const limits = resolveLimits({ urlPoolShare: 0.5 })
    // 4 workers × 0.5: two URL tasks at once
    const env: RunEnv = { runner, limits, urlSlots: new Slots(4 * limits.urlPoolShare) }
    const acs = [0, 1, 2, 3].map(() => new AbortController())
    const runs = acs.map((ac, i) => runTask(env, urlTask(i), undefined, ac.signal))
    await Promise.resolve()
    expect(started.map((s) => s.url)).toEqual(['https://data.example/0', 'https://data.example/1'])
    expect(env.urlSlots.queued).toBe(2)
    acs[2].abort(new Error('gone'))
    await expect(runs[2]).rejects.toThrow('gone')
    started[0].finish(7)
    await expect(runs[0]).resolves.toMatchObject({ header: { type: 'number', value: 7 } })
    // the freed slot went to the task still waiting, not the aborted one
    expect(started.map((s) => s.url).at(-1)).toBe('https://data.example/3')
    started[1].finish(1)
    started[2].finish(3)
    await Promise.all([runs[1], runs[3]])
    expect(env.urlSlots.busy).toBe(0)
  })

  it('small inline built-ins run here; the output limit holds', async () => {
    const { runner } = slowRunner()
    const env: RunEnv = { runner, limits: resolveLimits({ maxOutputBytes: 8 }), urlSlots: new Slots(1) }
    const header = (kernel: string): TaskRequestHeader => ({
      kernel,
      source: { kind: 'inline', length: 16 },
      deadlineMs: 1000,
      params: { key: 'ff' },
    })
    const ok = await runTask(env, header('crc32c'), new Uint8Array(16), new AbortController().signal)
    expect(ok.header).toMatchObject({ type: 'number', substrate: 'cpu' })
    await expect(runTask(env, header('xor'), new Uint8Array(16), new AbortController().signal)).rejects.toMatchObject({
      name: 'PayloadTooLargeError',
    })
  })
})
