// npm run fuzz — every decoder's fuzz targets (test/fuzz/targets) on the built
// library, 1,000,000 inputs each by default. Prints per target the inputs,
// inputs/s and crashes; exits 1 after printing the shrunk counterexample of any
// crash. A fuzzing run, not a test: the seed is random unless given.
//
//   npm run fuzz -- [--runs N] [--seed S] [--target NAME-PART]... [--list]
import { parseArgs } from 'node:util'
import { type FuzzReport, runTarget } from '../test/fuzz/harness.ts'
import { TARGETS } from '../test/fuzz/targets/index.ts'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000000' },
    seed: { type: 'string' },
    target: { type: 'string', multiple: true },
    list: { type: 'boolean', default: false },
  },
})

const runs = Number(values.runs)
if (!Number.isSafeInteger(runs) || runs < 1)
  throw new RangeError(`--runs must be a positive integer, not ${values.runs}`)
const seed = values.seed === undefined ? (Math.random() * 2 ** 31) | 0 : Number(values.seed)
if (!Number.isSafeInteger(seed)) throw new RangeError(`--seed must be an integer, not ${values.seed}`)
const picked = TARGETS.filter((t) => !values.target || values.target.some((part) => t.name.includes(part)))

if (values.list || picked.length === 0) {
  for (const t of TARGETS) console.log(t.name)
  process.exit(picked.length === 0 ? 1 : 0)
}

console.log(`fuzzing ${picked.length} targets, ${runs.toLocaleString('en')} inputs each, seed ${seed}`)
console.log(
  `${'target'.padEnd(24)} ${'inputs'.padStart(11)} ${'seconds'.padStart(8)} ${'inputs/s'.padStart(9)} crashes`,
)
const failed: FuzzReport[] = []
for (const t of picked) {
  const r = await runTarget(t, { runs, seed })
  const rate = Math.round((r.inputs / r.ms) * 1000)
  console.log(
    `${r.name.padEnd(24)} ${r.inputs.toLocaleString('en').padStart(11)} ${(r.ms / 1000).toFixed(1).padStart(8)} ${rate.toLocaleString('en').padStart(9)} ${r.crashes}`,
  )
  if (r.crashes > 0) failed.push(r)
}
for (const r of failed) console.log(`\n${r.name}: ${r.crashes} crashes (seed ${r.seed})\n${r.failure}`)
process.exit(failed.length > 0 ? 1 : 0)
