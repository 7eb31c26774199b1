import { prng, testSeed } from '@peercompute/kernels/testing'
import { describe, expect, it } from 'vitest'
import { decodeBatch, encodeValues } from './batch-codec.js'
import { MapResults } from './results.js'

const SEED = testSeed(0x5e1)

/** Batches of `sizes` over `values`, in a shuffled order of arrival: [first, values]. */
function arrivals(values: unknown[], sizes: number[], seed: number): Array<[number, unknown[]]> {
  const out: Array<[number, unknown[]]> = []
  let first = 0
  for (const n of sizes) {
    out.push([first, values.slice(first, first + n)])
    first += n
  }
  const r = prng(seed)
  for (let i = out.length - 1; i > 0; i--) {
    const j = r.int(i + 1)
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

describe(`map results in input order (SEED=${SEED})`, () => {
  it('batches arriving in any order read back in order', () => {
    const r = prng(SEED)
    const values: unknown[] = Array.from({ length: 5000 }, (_, i) =>
      i % 7 === 0 ? `s${i}` : i % 11 === 0 ? { i } : i * 1.5,
    )
    const sizes: number[] = []
    for (let left = values.length; left > 0; ) {
      const n = Math.min(left, 1 + r.int(300))
      sizes.push(n)
      left -= n
    }
    const res = new MapResults()
    let seen = 0
    for (const [first, vs] of arrivals(values, sizes, SEED + 1)) {
      // as the job adds them: the batch's results as they came off the wire
      res.add(first, decodeBatch(encodeValues(vs), vs.length))
      // what is ready is a prefix, read in order as the job's iterator does
      for (; seen < res.ready; seen++) expect(res.at(seen)).toEqual(values[seen])
    }
    expect(res.ready).toBe(values.length)
    expect(res.all()).toEqual(values)
    expect(res.at(3)).toEqual(values[3]) // reading back from the start again
  })
})
