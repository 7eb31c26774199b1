// Builds the volunteer script tag (packages/peercompute/vite.volunteer.config.ts),
// prints the gzipped size of the loader and of everything, and fails when either
// passes its budget: loader ≤ 15 KB gzip, everything ≤ 220 KB gzip.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { gzipSync } from 'node:zlib'
import { build } from 'vite'

const KB = 1024
export const LOADER_BUDGET = 15 * KB
export const TOTAL_BUDGET = 220 * KB

const pkg = resolve(import.meta.dirname, '../packages/peercompute')
const configFile = join(pkg, 'vite.volunteer.config.ts')
const out = join(pkg, 'dist/volunteer')

for (const mode of ['loader', 'node']) await build({ configFile, mode })

const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]))
const gz = (f: string) => gzipSync(readFileSync(f), { level: 9 }).length
const all = files(out).filter((f) => /\.(js|wasm)$/.test(f))
const loader = gz(join(out, 'peercompute.volunteer.js'))
let total = 0
for (const f of all) {
  const n = gz(f)
  total += n
  console.log(
    `  ${relative(out, f).padEnd(48)} ${(statSync(f).size / KB).toFixed(1).padStart(7)} KB  ${(n / KB).toFixed(1).padStart(6)} KB gzip`,
  )
}
const line = (name: string, n: number, budget: number) =>
  `${name}: ${(n / KB).toFixed(1)} KB gzip (budget ${budget / KB} KB)${n > budget ? '  OVER BUDGET' : ''}`
console.log(line('volunteer loader', loader, LOADER_BUDGET))
console.log(line('volunteer total ', total, TOTAL_BUDGET))
if (loader > LOADER_BUDGET || total > TOTAL_BUDGET) {
  console.error('the volunteer bundle is over its size budget')
  process.exit(1)
}
