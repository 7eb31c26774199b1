// Shared helpers for the benchmark scripts: timing, ratios to a reference
// measured in the same run, and a Markdown table. Figures are printed, never asserted.

function warmUp(fn: () => unknown, ms = 150): void {
  const until = performance.now() + ms
  do fn()
  while (performance.now() < until)
}

function once(fn: () => unknown): number {
  const s = performance.now()
  fn()
  return performance.now() - s
}

/** The median of `a` (the upper one of an even count). */
export function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y)
  return s[Math.floor(s.length / 2)]
}

/**
 * Times `fn` and `ref` alternately, round by round, so that noise from other
 * tenants of the machine hits both alike; returns both medians in milliseconds.
 */
export function pairedMs(fn: () => unknown, ref: () => unknown, rounds = 9): { ms: number; refMs: number } {
  warmUp(fn)
  warmUp(ref)
  const a: number[] = []
  const b: number[] = []
  for (let i = 0; i < rounds; i++) {
    a.push(once(fn))
    b.push(once(ref))
  }
  return { ms: median(a), refMs: median(b) }
}

/**
 * Runs `fn(0)` … `fn(count − 1)` with `width` of them in flight at once: each of
 * `width` lanes takes the next index as its last call settles.
 */
export async function pooled(count: number, width: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await fn(next++)
    }),
  )
}

/** Repeats `fn` `times` times: small buffers are timed over many calls. */
export function repeat(times: number, fn: () => unknown): () => void {
  return () => {
    for (let i = 0; i < times; i++) fn()
  }
}

/** A result line: our figure next to a reference from the same run. */
export interface Row {
  what: string
  size: string
  value: number
  reference?: string
  refValue?: number
  /** Required ratio value / refValue, if the issue sets one. */
  target?: number
}

/** Prints rows as a Markdown table with the ratio and, where set, the target's verdict. */
export function printTable(rows: Row[], unit: string): void {
  const lines = [
    `| what | size | ${unit} | reference | ref ${unit} | ratio | target |`,
    '|---|---|---:|---|---:|---:|---|',
  ]
  for (const r of rows) {
    const ratio = r.refValue ? r.value / r.refValue : undefined
    const verdict =
      r.target === undefined || ratio === undefined ? '' : `≥ ${r.target}× ${ratio >= r.target ? 'met' : 'MISSED'}`
    lines.push(
      `| ${r.what} | ${r.size} | ${r.value.toFixed(2)} | ${r.reference ?? ''} | ${r.refValue?.toFixed(2) ?? ''} | ${ratio?.toFixed(2) ?? ''} | ${verdict} |`,
    )
  }
  console.log(lines.join('\n'))
}
