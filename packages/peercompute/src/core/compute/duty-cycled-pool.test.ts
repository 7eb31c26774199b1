import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { CodePool } from '../code/code-store.js'
import { AbortError, QueueFullError, StoppedError } from '../errors.js'
import { DutyCycle } from './duty-cycle.js'
import { DutyCycledPool } from './duty-cycled-pool.js'
import type { ToWorker } from './messages.js'
import { type WorkerHandle, WorkerPool } from './worker-pool.js'

/** A code pool that answers each task `ms` after it arrives (fake time) and logs when tasks reached it. */
function fakePool(log: Array<{ input: unknown; at: number }>, ms = 100): CodePool & { stopped: boolean } {
  return {
    stopped: false,
    registerKernel: () => {},
    unregisterKernel: () => {},
    run<T>(_kernel: string, input: unknown) {
      log.push({ input, at: performance.now() })
      return new Promise<T>((resolve) => setTimeout(() => resolve(input as T), ms))
    },
    async stop() {
      this.stopped = true
    },
  }
}

/** A worker that answers each task `ms` after it arrives (fake time) and logs when tasks reached it. */
function fakeWorker(log: Array<{ input: unknown; at: number }>, ms = 100): WorkerHandle {
  let deliver: Parameters<WorkerHandle['start']>[0] | undefined
  return {
    post(msg: ToWorker) {
      if (msg.type !== 'tasks') return
      for (const t of msg.tasks) {
        log.push({ input: t.input, at: performance.now() })
        setTimeout(() => deliver?.({ type: 'results', results: [{ id: t.id, ok: true, output: t.input }] }), ms)
      }
    },
    start(onMessage) {
      deliver = onMessage
    },
    terminate: async () => {},
  }
}

describe('DutyCycledPool', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  const setup = (cap: number, lanes = 1) => {
    const duty = new DutyCycle(cap)
    const log: Array<{ input: unknown; at: number }> = []
    const inner = fakePool(log)
    return { duty, log, inner, pool: new DutyCycledPool(inner, duty, { lanes }) }
  }

  it('after a task of t ms a lane rests t·(1−cap)/cap ms, and the cycle counts the tasks', async () => {
    const { duty, log, pool } = setup(0.25)
    const runs = [1, 2, 3].map((i) => pool.run('k', i, {}))
    await vi.advanceTimersByTimeAsync(2000)
    expect(await Promise.all(runs)).toEqual([1, 2, 3])
    expect(log.map((l) => l.at - log[0].at)).toEqual([0, 400, 800])
    expect(duty.stats()).toMatchObject({ started: 3, finished: 3, refused: 0, running: 0, busyMs: 300 })
    await pool.stop()
  })

  it('runs at most `lanes` tasks at once', async () => {
    const { log, pool } = setup(1, 2)
    const runs = [1, 2, 3, 4].map((i) => pool.run('k', i, {}))
    await vi.advanceTimersByTimeAsync(0)
    expect(log.map((l) => l.input)).toEqual([1, 2])
    await vi.advanceTimersByTimeAsync(1000)
    expect(await Promise.all(runs)).toEqual([1, 2, 3, 4])
    expect(log.map((l) => l.at - log[0].at)).toEqual([0, 0, 100, 100])
    await pool.stop()
  })

  it('a pause refuses new and waiting tasks with QueueFullError; the running one finishes; resume accepts again', async () => {
    const { duty, log, pool } = setup(1)
    const running = pool.run('k', 1, {})
    const waiting = pool.run('k', 2, {})
    await vi.advanceTimersByTimeAsync(0)
    duty.pause()
    await expect(waiting).rejects.toBeInstanceOf(QueueFullError)
    await expect(pool.run('k', 3, {})).rejects.toBeInstanceOf(QueueFullError)
    await vi.advanceTimersByTimeAsync(100)
    expect(await running).toBe(1)
    expect(duty.stats()).toMatchObject({ started: 1, finished: 1, refused: 2 })
    duty.resume()
    const again = pool.run('k', 4, {})
    await vi.advanceTimersByTimeAsync(100)
    expect(await again).toBe(4)
    expect(log.map((l) => l.input)).toEqual([1, 4])
    await pool.stop()
  })

  it('a waiting task can be cancelled; stop refuses what waits and stops the inner pool', async () => {
    const { inner, log, pool } = setup(1)
    const running = pool.run('k', 1, {})
    const ac = new AbortController()
    const cancelled = pool.run('k', 2, { signal: ac.signal })
    const left = pool.run('k', 3, {})
    ac.abort(new AbortError('no longer wanted'))
    await expect(cancelled).rejects.toBeInstanceOf(AbortError)
    await pool.stop()
    await expect(left).rejects.toBeInstanceOf(StoppedError)
    await expect(pool.run('k', 4, {})).rejects.toBeInstanceOf(StoppedError)
    expect(inner.stopped).toBe(true)
    await vi.advanceTimersByTimeAsync(100)
    expect(await running).toBe(1)
    expect(log.map((l) => l.input)).toEqual([1])
  })

  it('shares the cycle’s maxRunning with the wrapped workers: the lent cores are never exceeded', async () => {
    const duty = new DutyCycle(1, 1)
    const log: Array<{ input: unknown; at: number }> = []
    const workers = new WorkerPool({ cores: 4, maxWorkers: 1, createWorker: () => duty.wrap(fakeWorker(log)) })
    const pool = new DutyCycledPool(fakePool(log), duty, { lanes: 1 })
    const runs = [workers.run('x', 'w1'), pool.run('k', 's1', {}), workers.run('x', 'w2'), pool.run('k', 's2', {})]
    let most = 0
    duty.onChange((st) => {
      most = Math.max(most, st.running)
    })
    await vi.advanceTimersByTimeAsync(1000)
    expect(await Promise.all(runs)).toEqual(['w1', 's1', 'w2', 's2'])
    // one at a time, 100 ms each, back to back
    expect(most).toBe(1)
    expect(log.map((l) => l.at - log[0].at).sort((a, b) => a - b)).toEqual([0, 100, 200, 300])
    expect(duty.stats()).toMatchObject({ started: 4, finished: 4, running: 0 })
    await Promise.all([pool.stop(), workers.stop()])
  })

  it('bounds what waits', async () => {
    const duty = new DutyCycle(1)
    const pool = new DutyCycledPool(fakePool([]), duty, { lanes: 1, maxQueue: 1 })
    const runs = [pool.run('k', 1, {}), pool.run('k', 2, {})]
    await expect(pool.run('k', 3, {})).rejects.toBeInstanceOf(QueueFullError)
    await vi.advanceTimersByTimeAsync(300)
    expect(await Promise.all(runs)).toEqual([1, 2])
    await pool.stop()
  })
})
