// Live charts of throughput, tasks/s and cost, drawn with uPlot; a bounded window of points.
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

/** Points kept per chart (at one a second: five minutes). */
export const MAX_POINTS = 300

/** One live chart: `push` adds a point at a time in seconds. */
export interface LiveChart {
  readonly plot: uPlot
  push(atSec: number, value: number): void
}

function liveChart(host: HTMLElement, label: string, color: string): LiveChart {
  const xs: number[] = []
  const ys: number[] = []
  const plot = new uPlot(
    {
      width: Math.max(240, Math.min(host.clientWidth || 360, 480)),
      height: 160,
      legend: { show: false },
      series: [{}, { label, stroke: color, width: 2, fill: `${color}22` }],
      axes: [{}, { size: 60 }],
      scales: { y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
    },
    [xs, ys],
    host,
  )
  return {
    plot,
    push(atSec, value) {
      xs.push(atSec)
      ys.push(value)
      if (xs.length > MAX_POINTS) {
        xs.shift()
        ys.shift()
      }
      plot.setData([xs, ys])
    },
  }
}

/** The page's three charts. */
export interface Charts {
  bytes: LiveChart
  tasks: LiveChart
  cost: LiveChart
}

/** Makes the three charts in their hosts. */
export function makeCharts(hosts: { bytes: HTMLElement; tasks: HTMLElement; cost: HTMLElement }): Charts {
  return {
    bytes: liveChart(hosts.bytes, 'MB/s', '#1f77b4'),
    tasks: liveChart(hosts.tasks, 'tasks/s', '#2ca02c'),
    cost: liveChart(hosts.cost, 'USD', '#d62728'),
  }
}

/**
 * Rates from cumulative totals (a relay's snapshot sums what peers publish).
 * A total that drops (a peer left, or its ring wrapped) gives 0, not a negative rate.
 */
export class RateFromTotals {
  private last?: { at: number; ok: number; bytes: number }

  /** Tasks/s and bytes/s since the previous call. */
  next(atMs: number, ok: number, bytes: number): { tasksPerSec: number; bytesPerSec: number } {
    const prev = this.last
    this.last = { at: atMs, ok, bytes }
    if (!prev || atMs <= prev.at) return { tasksPerSec: 0, bytesPerSec: 0 }
    const dt = (atMs - prev.at) / 1000
    return { tasksPerSec: Math.max(0, ok - prev.ok) / dt, bytesPerSec: Math.max(0, bytes - prev.bytes) / dt }
  }
}
