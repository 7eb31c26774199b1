import { readdirSync, readFileSync } from 'node:fs'
import * as kernels from '@peercompute/kernels'
import { afterEach, describe, expect, it } from 'vitest'
import type { WorkerPool } from '../../core/compute/worker-pool.js'
import { createWorkerPool, type WorkerPoolNodeInit } from './node-worker-pool.js'

const fixture = (name: string) => new URL(`./fixtures/${name}.mjs`, import.meta.url).href
const pools: WorkerPool[] = []
function pool(init: WorkerPoolNodeInit = {}): WorkerPool {
  const p = createWorkerPool({ maxWorkers: 2, ...init })
  for (const k of ['inc', 'busy', 'cooperative', 'crash', 'throws', 'count']) p.registerKernel(k, fixture(k))
  pools.push(p)
  return p
}
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.stop()))
})

/**
 * A flag the busy and cooperative kernels raise once they run: tests wait for
 * it instead of guessing how long a cold worker takes to start a task.
 */
function startFlag() {
  // Atomics.waitAsync is in TypeScript's ES2024 library; the project's is ES2023
  const { waitAsync } = Atomics as unknown as {
    waitAsync(a: Int32Array, i: number, v: number, ms: number): { async: boolean; value: string | Promise<string> }
  }
  const sab = new SharedArrayBuffer(4)
  const flag = new Int32Array(sab)
  return {
    sab,
    async started(): Promise<void> {
      const r = waitAsync(flag, 0, 0, 30_000)
      if ((r.async ? await r.value : r.value) === 'timed-out') throw new Error('the task never started')
    },
  }
}

/** OS threads of this process. */
/** OS threads of this process that are worker_threads (Node names them so; libuv and V8 threads come and go on their own). */
const threads = () =>
  readdirSync('/proc/self/task').filter((t) => {
    try {
      return readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim() === 'WorkerThread'
    } catch {
      return false // the thread ended while we looked
    }
  }).length
const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 2654435761 + seed) >>> 13)

describe('WorkerPool on worker_threads', () => {
  it('runs the built-in kernels with the same results as calling them directly', async () => {
    const p = pool()
    const d = bytes(300_001)
    const [crc, fnv, cnt] = await Promise.all([
      p.run('crc32c', d),
      p.run('fnv64', d),
      p.run('counteq', d, { params: { imm: 9 } }),
    ])
    expect(crc).toBe(kernels.crc32c(d))
    expect(fnv).toBe(kernels.fnv64(d))
    expect(cnt).toBe(kernels.counteq(d, 9))
    // pieces hashed on the pool combine into the whole
    const half = 150_000
    const [a, b] = await Promise.all([
      p.run<number>('crc32c', d.subarray(0, half)),
      p.run<number>('crc32c', d.subarray(half)),
    ])
    expect(kernels.crc32cCombine(a, b, d.length - half)).toBe(kernels.crc32c(d))
  })

  it('runs registered kernels, many tiny tasks in order of submission', async () => {
    const p = pool()
    const out = await Promise.all(Array.from({ length: 5000 }, (_, i) => p.run<number>('inc', i)))
    expect(out).toEqual(Array.from({ length: 5000 }, (_, i) => i + 1))
    expect(p.stats()).toMatchObject({ completed: 5000, failed: 0, queued: 0, running: 0 })
  })

  it('an unknown kernel is a KernelNotFoundError; a throwing kernel a KernelError', async () => {
    const p = pool()
    await expect(p.run('nope', 1)).rejects.toMatchObject({ name: 'KernelNotFoundError' })
    await expect(p.run('throws', 1)).rejects.toMatchObject({
      name: 'KernelError',
      kernelErrorName: 'RangeError',
      message: 'bad params for this kernel',
    })
    expect(await p.run('inc', 1)).toBe(2)
  })

  it('runs higher priorities first', async () => {
    const p = pool({ maxWorkers: 1 })
    const order: number[] = []
    const blocker = p.run('busy', null, { params: { ms: 150 } })
    const runs = [0, 5, 1, 9].map((prio) => p.run('inc', prio, { priority: prio }).then(() => order.push(prio)))
    await Promise.all([blocker, ...runs])
    expect(order).toEqual([9, 5, 1, 0])
  })

  it('a full queue rejects with QueueFullError and keeps what it had', async () => {
    const p = pool({ maxWorkers: 1, maxQueue: 3 })
    const flag = startFlag()
    const blocker = p.run('busy', flag.sab, { params: { ms: 200 } })
    await flag.started() // the blocker is on the worker, not in the queue
    const queued = [1, 2, 3].map((i) => p.run<number>('inc', i))
    await expect(p.run('inc', 4)).rejects.toMatchObject({ name: 'QueueFullError' })
    expect(await Promise.all(queued)).toEqual([2, 3, 4])
    await blocker
  })

  it('cancels a queued task: it never runs', async () => {
    const p = pool({ maxWorkers: 1 })
    const sab = new SharedArrayBuffer(4)
    const blocker = p.run('busy', null, { params: { ms: 150 } })
    const ac = new AbortController()
    const cancelled = p.run('count', sab, { signal: ac.signal })
    ac.abort()
    await expect(cancelled).rejects.toMatchObject({ name: 'AbortError' })
    await blocker
    expect(await p.run('count', sab)).toBe(1) // only this one ran
    await expect(p.run('inc', 1, { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' })
  })

  it('cancels a running task: cooperatively, or by replacing its worker', async () => {
    const p = pool({ maxWorkers: 1, abortGraceMs: 100 })
    // aborted while it runs (not while its worker is still starting): it stops itself
    const ac = new AbortController()
    const coopFlag = startFlag()
    const coop = p.run('cooperative', coopFlag.sab, { params: { ms: 10_000 }, signal: ac.signal })
    await coopFlag.started()
    ac.abort()
    await expect(coop).rejects.toMatchObject({ name: 'AbortError' })
    expect(p.stats().workersReplaced).toBe(0)

    // a kernel that never yields: its worker is replaced (it would otherwise spin for 10 s)
    const ac2 = new AbortController()
    const busyFlag = startFlag()
    const busy = p.run('busy', busyFlag.sab, { params: { ms: 10_000 }, signal: ac2.signal })
    await busyFlag.started()
    ac2.abort()
    await expect(busy).rejects.toMatchObject({ name: 'AbortError' })
    expect(await p.run('inc', 41)).toBe(42) // served by a fresh worker
    expect(p.stats().workersReplaced).toBe(1)
  })

  it('a deadline gives TaskTimeoutError and the pool keeps serving', async () => {
    const p = pool({ maxWorkers: 1, abortGraceMs: 50 })
    await expect(p.run('busy', null, { params: { ms: 10_000 }, timeoutMs: 100 })).rejects.toMatchObject({
      name: 'TaskTimeoutError',
    })
    expect(await p.run('inc', 1)).toBe(2)
  })

  it('a crashing kernel fails its task only; the other tasks of that worker still complete', async () => {
    const p = pool({ maxWorkers: 1 })
    const before = p.run('busy', null, { params: { ms: 30 } })
    const crash = p.run('crash', null)
    const after = Array.from({ length: 20 }, (_, i) => p.run<number>('inc', i))
    await expect(crash).rejects.toMatchObject({ name: 'WorkerCrashedError' })
    expect(await before).toBe('finished')
    expect(await Promise.all(after)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
    expect(p.stats().workersReplaced).toBe(1)
  })

  it('transfers buffers both ways without copying', async () => {
    const p = pool()
    const d = bytes(16 << 20)
    const want = kernels.add(d, 3)
    const out = await p.run<Uint8Array>('add', d, { params: { imm: 3 }, transfer: [d.buffer] })
    expect(d.byteLength).toBe(0) // moved to the worker
    expect(out.length).toBe(16 << 20)
    expect(kernels.crc32c(out)).toBe(kernels.crc32c(want))
    // shared memory is read in place and never written
    const sab = new SharedArrayBuffer(1000)
    const view = new Uint8Array(sab).fill(5)
    const x = await p.run<Uint8Array>('xor', view, { params: { imm: 1 } })
    expect(x[0]).toBe(4)
    expect(view[0]).toBe(5)
  })

  it('stop() fails what is left and leaves no thread behind', async () => {
    const base = threads()
    const p = createWorkerPool({ maxWorkers: 2 })
    p.registerKernel('busy', fixture('busy'))
    const flags = [startFlag(), startFlag()]
    const running = flags.map((f) => p.run('busy', f.sab, { params: { ms: 5000 } }))
    const queued = p.run('crc32c', new Uint8Array(10))
    // both workers run a task: their threads are up
    await Promise.all(flags.map((f) => f.started()))
    expect(threads()).toBeGreaterThanOrEqual(base + 2)
    const settled = Promise.allSettled([...running, queued])
    await p.stop()
    for (const r of await settled) expect(r).toMatchObject({ status: 'rejected', reason: { name: 'StoppedError' } })
    await expect(p.run('crc32c', new Uint8Array(1))).rejects.toMatchObject({ name: 'StoppedError' })
    expect(threads()).toBe(base)
  })

  it('sizes itself from cores, maxWorkers and maxCpuFraction', () => {
    expect(createWorkerPool({ cores: 8 }).maxWorkers).toBe(7)
    expect(createWorkerPool({ cores: 1 }).maxWorkers).toBe(1)
    expect(createWorkerPool({ cores: 8, maxCpuFraction: 0.5 }).maxWorkers).toBe(4)
    expect(createWorkerPool({ cores: 8, maxWorkers: 3, maxCpuFraction: 0.9 }).maxWorkers).toBe(3)
    expect(() => createWorkerPool({ maxCpuFraction: 0 })).toThrow(RangeError)
  })
})
