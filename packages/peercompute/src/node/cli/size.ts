const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
}

/** Parses a byte size such as `4096`, `64KiB`, `256MiB` or `1GB`. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined
  if (!m || unit === undefined)
    throw new RangeError(`not a size: ${JSON.stringify(text)} (try 4096, 64KiB, 256MiB, 1GB)`)
  const n = Number(m[1]) * unit
  if (!Number.isSafeInteger(n)) throw new RangeError(`size must be a whole number of bytes: ${JSON.stringify(text)}`)
  return n
}

/** Formats a byte count for people: `268435456` → `256 MiB`. */
export function formatSize(n: number): string {
  for (const [u, f] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (n >= f) return `${Number((n / f).toFixed(2))} ${u}`
  }
  return `${n} B`
}
