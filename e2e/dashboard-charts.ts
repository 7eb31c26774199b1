// What the dashboard e2e tests read of the page's charts, through uPlot's own
// data (window.dashboard, declared by the dashboard's main.ts).
import type { Page } from 'playwright-core'
import type {} from '../packages/dashboard/src/main.ts'

/** Readers of the tasks/s chart on `page`, from the moment this is called. */
export function tasksChart(page: Page): {
  /** How many points the chart holds now. */
  points(): Promise<number>
  /** The highest tasks/s of the points taken since the call (0 if none). */
  busiestSince(): Promise<number>
} {
  const since = Date.now() / 1000
  return {
    points: () => page.evaluate(() => window.dashboard.charts.tasks.plot.data[0].length),
    busiestSince: () =>
      page.evaluate((t0) => {
        const [xs, ys] = window.dashboard.charts.tasks.plot.data as [number[], number[]]
        return Math.max(0, ...ys.filter((_, i) => xs[i] > t0))
      }, since),
  }
}
