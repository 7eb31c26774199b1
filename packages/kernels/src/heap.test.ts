import { describe, expect, it } from 'vitest'
import { Heap } from './heap.js'
import { prng, testSeed } from './testing/prng.js'

describe('Heap (first-fit over wasm memory)', () => {
  const make = () => {
    let end = 1024
    const heap = new Heap(1024, 1024, (minEnd) => {
      if (minEnd > end) end = Math.ceil(minEnd / 4096) * 4096
      return end
    })
    return { heap, end: () => end }
  }

  it('aligns, reuses freed space and coalesces neighbours', () => {
    const { heap } = make()
    const a = heap.alloc(10)
    const b = heap.alloc(100)
    const c = heap.alloc(64)
    expect([a % 64, b % 64, c % 64]).toEqual([0, 0, 0])
    expect(b).toBe(a + 64)
    heap.release(a)
    heap.release(b)
    expect(heap.alloc(150)).toBe(a) // a and b coalesced
    expect(() => heap.release(a + 1)).toThrow(/no live allocation/)
  })

  it(`random alloc/free never overlaps and returns all memory (SEED=${testSeed(7)})`, () => {
    const r = prng(testSeed(7))
    const { heap } = make()
    const live = new Map<number, number>()
    for (let i = 0; i < 2000; i++) {
      if (live.size && r.int(2) === 0) {
        const ptrs = [...live.keys()]
        const p = ptrs[r.int(ptrs.length)]
        heap.release(p)
        live.delete(p)
      } else {
        const size = 1 + r.int(5000)
        const p = heap.alloc(size)
        for (const [q, s] of live) expect(p + size <= q || q + s <= p, `overlap at step ${i}`).toBe(true)
        live.set(p, size)
      }
    }
    for (const p of live.keys()) heap.release(p)
    expect(heap.allocatedBytes).toBe(0)
  })
})
