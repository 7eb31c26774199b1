// The volunteer bundle's budgets as `npm run build` checks them, on the built
// files (`npm run build` first): they fit today, and a bundle over a budget is
// reported with both sizes and fails.
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { checkBudgets, LOADER, LOADER_BUDGET, TOTAL_BUDGET } from '../../scripts/volunteer-budget.ts'

const DIR = resolve(import.meta.dirname, '../../packages/peercompute/dist/volunteer')

describe('the volunteer bundle budgets', () => {
  it('the built loader and the whole bundle fit: loader ≤ 15 KB, everything ≤ 220 KB gzip', () => {
    const r = checkBudgets(DIR)
    expect(r.files.map((f) => f.file)).toEqual(
      expect.arrayContaining([LOADER, 'peercompute.volunteer.node.js', expect.stringMatching(/^assets\/worker-entry/)]),
    )
    expect(r.loader).toBeLessThanOrEqual(LOADER_BUDGET)
    expect(r.total).toBeLessThanOrEqual(TOTAL_BUDGET)
    expect(r.ok).toBe(true)
  })

  it('past either budget the check fails and prints both sizes', () => {
    const loaderOver = checkBudgets(DIR, { loader: 1024, total: TOTAL_BUDGET })
    expect(loaderOver.ok).toBe(false)
    expect(loaderOver.lines.at(-2)).toMatch(/^volunteer loader: [\d.]+ KB gzip \(budget 1\.0 KB\) {2}OVER BUDGET$/)
    expect(loaderOver.lines.at(-1)).toMatch(/^volunteer total : [\d.]+ KB gzip \(budget 220\.0 KB\)$/)
    const totalOver = checkBudgets(DIR, { loader: LOADER_BUDGET, total: 100 * 1024 })
    expect(totalOver.ok).toBe(false)
    expect(totalOver.lines.at(-1)).toContain('OVER BUDGET')
  })
})
