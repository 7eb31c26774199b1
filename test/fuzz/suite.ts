// The vitest side of the fuzz harness: one test per target, 10,000 inputs
// (FUZZ_RUNS to change), from a fixed seed unless SEED is set; the seed is printed.
import { testSeed } from '@peercompute/kernels/testing'
import { describe, expect, it } from 'vitest'
import { type FuzzTarget, runTarget } from './harness.ts'

/** Inputs per target in `npm test`. */
export const TEST_RUNS = Number(process.env.FUZZ_RUNS ?? 10_000)

/** One vitest test per target: no crash in TEST_RUNS inputs. */
export function fuzzSuite(name: string, targets: FuzzTarget<unknown>[], fallbackSeed: number): void {
  const seed = testSeed(fallbackSeed)
  describe(`fuzz: ${name} (seed ${seed}; SEED=${seed} to replay)`, () => {
    for (const t of targets) {
      it(`${t.name}: ${TEST_RUNS} inputs, only typed errors`, async () => {
        const r = await runTarget(t, { runs: TEST_RUNS, seed })
        console.log(
          `fuzz ${r.name}: seed ${seed}, ${r.inputs} inputs, ${Math.round((r.inputs / r.ms) * 1000)}/s, ${r.crashes} crashes`,
        )
        expect(r.failure, r.failure).toBeUndefined()
        expect(r.crashes).toBe(0)
      })
    }
  })
}
