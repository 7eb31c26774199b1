// Builds the volunteer script tag (packages/peercompute/vite.volunteer.config.ts),
// prints the gzipped size of the loader and of everything, and fails when either
// passes its budget (scripts/volunteer-budget.ts): loader ≤ 15 KB, everything ≤ 220 KB gzip.
import { join, resolve } from 'node:path'
import { build } from 'vite'
import { checkBudgets } from './volunteer-budget.ts'

const pkg = resolve(import.meta.dirname, '../packages/peercompute')
const configFile = join(pkg, 'vite.volunteer.config.ts')

for (const mode of ['loader', 'node']) await build({ configFile, mode })

const report = checkBudgets(join(pkg, 'dist/volunteer'))
for (const l of report.lines) console.log(l)
if (!report.ok) {
  console.error('the volunteer bundle is over its size budget')
  process.exit(1)
}
