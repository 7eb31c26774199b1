import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { AbortError, QueueFullError } from '../errors.js'
import { DutyCycle } from './duty-cycle.js'
import type { ToWorker } from './messages.js'
import { type WorkerHandle, WorkerPool } from './worker-pool.js'

/** A worker that answers each task `ms` after it arrives (fake time) and logs when tasks reached it. */
function fakeWorker(log: Array<{ id: number; at: number }>, ms = 100): WorkerHandle {
  let deliver: Parameters<WorkerHandle['start']>[0] | undefined
  return {
    post(msg: ToWorker) {
      if (msg.type !== 'tasks') return
      for (const t of msg.tasks) {
        log.push({ id: t.id, at: performance.now() })
        setTimeout(() => deliver?.({ type: 'results', results: [{ id: t.id, ok: true, output: t.input }] }), ms)
      }
    },
    start(onMessage) {
      deliver = onMessage
    },
    terminate: async () => {},
  }
}

describe('DutyCycle', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  const setup = (cap: number, workers = 1) => {
    const duty = new DutyCycle(cap)
    const log: Array<{ id: number; at: number }> = []
    const pool = new WorkerPool({ cores: 4, maxWorkers: workers, createWorker: () => duty.wrap(fakeWorker(log)) })
    return { duty, log, pool }
  }

  it('after a task of t ms a worker rests t·(1−cap)/cap ms: busy at most cap of the time', async () => {
    const { duty, log, pool } = setup(0.25)
    const runs = [1, 2, 3].map((i) => pool.run('x', i))
    await vi.advanceTimersByTimeAsync(2000)
    expect(await Promise.all(runs)).toEqual([1, 2, 3])
    const t0 = log[0].at
    // 100 ms of work, then 300 ms of rest, for each task
    expect(log.map((l) => l.at - t0)).toEqual([0, 400, 800])
    expect(duty.stats()).toMatchObject({ started: 3, finished: 3, refused: 0, running: 0, busyMs: 300 })
    await pool.stop()
  })

  it('cap 1 never rests', async () => {
    const { log, pool } = setup(1)
    const runs = [1, 2, 3].map((i) => pool.run('x', i))
    await vi.advanceTimersByTimeAsync(1000)
    await Promise.all(runs)
    expect(log.map((l) => l.at - log[0].at)).toEqual([0, 100, 200])
    await pool.stop()
  })

  it('a pause refuses waiting tasks as busy (QueueFullError) and lets the running one finish; resume accepts again', async () => {
    const { duty, log, pool } = setup(0.5)
    const first = pool.run('x', 1)
    const second = pool.run('x', 2)
    second.catch(() => {})
    await vi.advanceTimersByTimeAsync(10)
    duty.pause()
    const third = pool.run('x', 3)
    third.catch(() => {})
    await vi.advanceTimersByTimeAsync(1000)
    expect(await first).toBe(1)
    await expect(second).rejects.toBeInstanceOf(QueueFullError)
    await expect(third).rejects.toBeInstanceOf(QueueFullError)
    expect(log.map((l) => l.id)).toHaveLength(1)
    expect(duty.stats()).toMatchObject({ started: 1, finished: 1, refused: 2 })
    duty.resume()
    const fourth = pool.run('x', 4)
    await vi.advanceTimersByTimeAsync(1000)
    expect(await fourth).toBe(4)
    await pool.stop()
  })

  it('a task cancelled while it waits for its turn never reaches the worker', async () => {
    const { log, pool } = setup(0.5)
    const first = pool.run('x', 1)
    await vi.advanceTimersByTimeAsync(100)
    expect(await first).toBe(1)
    // the worker rests now; both wait in the cycle (the pool sends a measured worker two)
    const ac = new AbortController()
    const second = pool.run('x', 2)
    const third = pool.run('x', 3, { signal: ac.signal })
    third.catch(() => {})
    await vi.advanceTimersByTimeAsync(10)
    ac.abort()
    await vi.advanceTimersByTimeAsync(1000)
    expect(await second).toBe(2)
    await expect(third).rejects.toBeInstanceOf(AbortError)
    expect(log).toHaveLength(2)
    await pool.stop()
  })

  it('refuses a cap outside (0, 1]', () => {
    for (const cap of [0, -0.5, 1.5, Number.NaN]) expect(() => new DutyCycle(cap)).toThrow(RangeError)
    const d = new DutyCycle(0.5)
    expect(() => {
      d.cap = 2
    }).toThrow(RangeError)
    expect(d.cap).toBe(0.5)
  })
})
