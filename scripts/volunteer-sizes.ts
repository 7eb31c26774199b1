// What is in the volunteer's node chunk: builds it once with a sourcemap into a
// temporary folder and prints the minified bytes each package (and, with
// --files, each source file) takes, largest first. A tool for keeping the
// bundle under its budget (scripts/volunteer-budget.ts); not part of the build.
//   node scripts/volunteer-sizes.ts [--files] [--top N]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { eachMapping, TraceMap } from '@jridgewell/trace-mapping'
import { build } from 'vite'

const args = process.argv.slice(2)
const byFile = args.includes('--files')
const top = Number(args[args.indexOf('--top') + 1]) || 40
const pkg = resolve(import.meta.dirname, '../packages/peercompute')
const out = mkdtempSync(join(tmpdir(), 'pc-volunteer-sizes-'))
try {
  await build({
    configFile: join(pkg, 'vite.volunteer.config.ts'),
    mode: 'node',
    build: { outDir: out, emptyOutDir: true, sourcemap: true },
  })
  const file = join(out, 'peercompute.volunteer.node.js')
  const code = readFileSync(file, 'utf8')
  const map = new TraceMap(readFileSync(`${file}.map`, 'utf8'))
  const lines = code.split('\n')
  // each mapped segment's bytes run to the next segment: credit them to its source
  const sizes = new Map<string, number>()
  let prev: { line: number; col: number; source: string } | undefined
  const credit = (toLine: number, toCol: number) => {
    if (!prev) return
    let n = 0
    if (toLine === prev.line) n = toCol - prev.col
    else {
      n = lines[prev.line].length - prev.col + 1
      for (let l = prev.line + 1; l < toLine; l++) n += lines[l].length + 1
      n += toCol
    }
    sizes.set(prev.source, (sizes.get(prev.source) ?? 0) + n)
  }
  eachMapping(map, (m) => {
    credit(m.generatedLine - 1, m.generatedColumn)
    prev = { line: m.generatedLine - 1, col: m.generatedColumn, source: m.source ?? '(none)' }
  })
  credit(lines.length - 1, lines[lines.length - 1].length)
  const group = (s: string) => {
    if (byFile) return s.replace(/^.*?node_modules\//, '')
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(s)
    if (m) return m[1]
    const p = /src\/([^/]+\/[^/]+)/.exec(s)
    return p ? `peercompute/${p[1]}` : s
  }
  const groups = new Map<string, number>()
  for (const [s, n] of sizes) groups.set(group(s), (groups.get(group(s)) ?? 0) + n)
  const total = code.length
  console.log(`peercompute.volunteer.node.js: ${(total / 1024).toFixed(1)} KB minified`)
  for (const [g, n] of [...groups].sort((a, b) => b[1] - a[1]).slice(0, top))
    console.log(`${(n / 1024).toFixed(1).padStart(7)} KB  ${((100 * n) / total).toFixed(1).padStart(5)}%  ${g}`)
} finally {
  rmSync(out, { recursive: true, force: true })
}
