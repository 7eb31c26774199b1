import * as kernels from '@peercompute/kernels'
import { createWorkerPool, GpuExecutor, OPS, runOp } from 'peercompute'

/** One check: where it ran, what came back, what this thread computes. */
export interface Check {
  op: string
  where: 'pool' | 'webgpu'
  got: string
  want: string
}

/** What the page reports to a person and to the e2e test. */
export interface ComputeReport {
  checks: Check[]
  workersStarted: number
  webgpu: 'ok' | 'no adapter' | 'not in this browser'
}

const show = (r: unknown): string =>
  r instanceof Uint8Array ? `${r.length} bytes, crc32c ${kernels.crc32c(r)}` : String(r)

function input(n: number): Uint8Array {
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = (Math.imul(i, 2654435761) >>> 13) & 0xff
  return b
}

async function runChecks(): Promise<ComputeReport> {
  const data = input((1 << 20) + 3)
  const params = { imm: 7 }
  const checks: Check[] = []
  const pool = createWorkerPool({ maxWorkers: 2 })
  let workersStarted = 0
  try {
    const results = await Promise.all(OPS.map((op) => pool.run(op, data.slice(), { params })))
    for (const [i, op] of OPS.entries()) {
      checks.push({ op, where: 'pool', got: show(results[i]), want: show(runOp(op, data, params)) })
    }
    // many tiny tasks, to exercise batching in the browser too
    const tiny: number[] = await Promise.all(
      Array.from({ length: 2000 }, (_, i) => pool.run<number>('counteq', Uint8Array.of(i & 0xff, 7), { params })),
    )
    checks.push({
      op: 'counteq ×2000',
      where: 'pool',
      got: String(tiny.reduce((a: number, b) => a + (b as number), 0)),
      want: String(2000 + 8),
    })
  } finally {
    workersStarted = pool.stats().workers
    await pool.stop()
  }
  let webgpu: ComputeReport['webgpu'] = 'not in this browser'
  if (navigator.gpu) {
    const gx = new GpuExecutor({ gpu: navigator.gpu })
    try {
      for (const op of ['counteq', 'xor', 'add'] as const) {
        checks.push({
          op,
          where: 'webgpu',
          got: show(await gx.runBuiltin(op, data, params)),
          want: show(runOp(op, data, params)),
        })
      }
      webgpu = 'ok'
    } catch (err) {
      if ((err as Error).name !== 'GpuUnavailableError') throw err
      webgpu = 'no adapter'
    } finally {
      await gx.stop()
    }
  }
  return { checks, workersStarted, webgpu }
}

function render(r: ComputeReport): void {
  const table = document.getElementById('results') as HTMLTableElement
  table.innerHTML = '<tr><th>op</th><th>where</th><th>result</th><th></th></tr>'
  for (const c of r.checks) {
    const row = table.insertRow()
    for (const text of [c.op, c.where, c.got]) row.insertCell().textContent = text
    const verdict = row.insertCell()
    verdict.textContent = c.got === c.want ? '✓ matches' : `✗ expected ${c.want}`
    verdict.className = c.got === c.want ? 'ok' : 'bad'
  }
  table.insertRow().insertCell().textContent = `WebGPU: ${r.webgpu}; workers started: ${r.workersStarted}`
}

declare global {
  interface Window {
    runChecks: () => Promise<ComputeReport>
  }
}
window.runChecks = async () => {
  const r = await runChecks()
  render(r)
  return r
}
document.getElementById('run')?.addEventListener('click', () => void window.runChecks())
document.body.dataset.ready = 'true'
