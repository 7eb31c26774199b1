// The volunteer bundle's size budgets, checked on a built dist/volunteer:
// the loader ≤ 15 KB gzip, everything (loader, node chunk, worker) ≤ 220 KB gzip.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { gzipSync } from 'node:zlib'

const KB = 1024
/** Gzipped bytes the loader may weigh. */
export const LOADER_BUDGET = 15 * KB
/** Gzipped bytes everything may weigh together. */
export const TOTAL_BUDGET = 220 * KB
/** The loader's file name. */
export const LOADER = 'peercompute.volunteer.js'

/** What the check found: each file's sizes, the two totals, and whether they fit. */
export interface BudgetReport {
  files: Array<{ file: string; bytes: number; gzip: number }>
  loader: number
  total: number
  ok: boolean
  /** Lines to print: every file, then both totals next to their budgets. */
  lines: string[]
}

/** Measures `dir` (a built dist/volunteer) against the budgets (overridable for tests). */
export function checkBudgets(dir: string, budgets = { loader: LOADER_BUDGET, total: TOTAL_BUDGET }): BudgetReport {
  const walk = (d: string): string[] =>
    readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)]))
  const files = walk(dir)
    .filter((f) => /\.(js|wasm)$/.test(f))
    .map((f) => ({
      file: relative(dir, f),
      bytes: statSync(f).size,
      gzip: gzipSync(readFileSync(f), { level: 9 }).length,
    }))
  const loader = files.find((f) => f.file === LOADER)?.gzip ?? Number.POSITIVE_INFINITY
  const total = files.reduce((a, f) => a + f.gzip, 0)
  const kb = (n: number) => (n / KB).toFixed(1)
  const line = (name: string, n: number, budget: number) =>
    `${name}: ${kb(n)} KB gzip (budget ${kb(budget)} KB)${n > budget ? '  OVER BUDGET' : ''}`
  return {
    files,
    loader,
    total,
    ok: loader <= budgets.loader && total <= budgets.total,
    lines: [
      ...files.map((f) => `  ${f.file.padEnd(48)} ${kb(f.bytes).padStart(7)} KB  ${kb(f.gzip).padStart(6)} KB gzip`),
      line('volunteer loader', loader, budgets.loader),
      line('volunteer total ', total, budgets.total),
    ],
  }
}
