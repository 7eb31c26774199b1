import { describe, expect, it } from 'vitest'
import { BufferPool } from './buffer-pool.js'

/** A stand-in device: the pool only creates buffers on it and destroys them (no GPU needed). */
function device(): GPUDevice & { made: Array<GPUBuffer & { destroyed: boolean }> } {
  const made: Array<GPUBuffer & { destroyed: boolean }> = []
  const createBuffer = ({ size, usage }: { size: number; usage: number }) => {
    const b = {
      size,
      usage,
      destroyed: false,
      destroy() {
        b.destroyed = true
      },
    }
    made.push(b as unknown as GPUBuffer & { destroyed: boolean })
    return b
  }
  return { made, createBuffer } as unknown as GPUDevice & { made: Array<GPUBuffer & { destroyed: boolean }> }
}

describe('BufferPool', () => {
  it("reuses its device's buffers by usage and rounded size, and keeps at most four of each", () => {
    const d = device()
    const pool = new BufferPool()
    pool.reset(d)
    const a = pool.take(d, 100, 1)
    expect(a.size).toBe(128)
    pool.give(d, a)
    expect(pool.take(d, 120, 1)).toBe(a) // same bucket, same usage
    expect(pool.take(d, 120, 2)).not.toBe(a) // another usage
    const six = Array.from({ length: 6 }, () => pool.take(d, 16, 1))
    pool.give(d, ...six)
    expect(six.filter((b) => (b as unknown as { destroyed: boolean }).destroyed)).toHaveLength(2)
  })

  it("never hands out a lost device's buffers: given back after a reset, they are destroyed", () => {
    const lost = device()
    const fresh = device()
    const pool = new BufferPool()
    pool.reset(lost)
    const kept = pool.take(lost, 64, 1)
    pool.give(lost, kept)
    const running = pool.take(lost, 256, 1) // a task still running when its device is lost
    pool.reset() // lost: the pooled one is destroyed
    expect(lost.made.map((b) => b.destroyed)).toEqual([true, false])
    pool.reset(fresh)
    pool.give(lost, running) // the task ends and gives its buffer back
    expect(lost.made[1].destroyed).toBe(true)
    const next = pool.take(fresh, 256, 1)
    expect(fresh.made).toEqual([next]) // made on the new device, not the lost one's
  })
})
