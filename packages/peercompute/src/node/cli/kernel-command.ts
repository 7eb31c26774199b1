import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { alloc, backend, crc32c, ready, type WasmBuffer } from '@peercompute/kernels'
import { isOp, OPS, type Op, type OpResult, runOp } from '../../core/ops.js'
import { formatSize, parseSize } from './size.js'

/** Options of `peercompute kernel`. */
export interface KernelCommandOptions {
  op: string
  file?: string
  size?: string
  imm?: string
  key?: string
  json?: boolean
}

/** One kernel run, as printed. */
export interface KernelRun {
  op: Op
  bytes: number
  result: string
  ms: number
  gbps: number
  backend: string
}

/** Reads a whole file into wasm memory, where the kernels run with no copy. */
function readInto(path: string): WasmBuffer {
  const fd = openSync(path, 'r')
  try {
    const size = fstatSync(fd).size
    const buf = alloc(size)
    let done = 0
    while (done < size) {
      const n = readSync(fd, buf.bytes, done, size - done, done)
      if (n === 0) throw new Error(`${path}: file shrank while reading (${done} of ${size} bytes)`)
      done += n
    }
    return buf
  } finally {
    closeSync(fd)
  }
}

/** A deterministic buffer of `size` bytes in wasm memory. */
function generate(size: number): WasmBuffer {
  const buf = alloc(size)
  const b = buf.bytes
  const period = Math.min(size, 65521) // prime: patterns don't line up with blocks
  for (let i = 0; i < period; i++) b[i] = (Math.imul(i, 2654435761) >>> 13) & 0xff
  for (let i = period; i < size; i += period) b.copyWithin(i, 0, Math.min(period, size - i))
  return buf
}

function show(op: Op, r: OpResult): string {
  if (op === 'crc32c') return `0x${r.toString(16).padStart(8, '0')}`
  if (typeof r === 'bigint') return `0x${r.toString(16).padStart(16, '0')}`
  if (r instanceof Uint8Array) return `${r.length} bytes, crc32c 0x${crc32c(r).toString(16).padStart(8, '0')}`
  return String(r)
}

/** Runs `peercompute kernel`: one op (or `all`) over a file or a generated buffer. */
export async function kernelCommand(o: KernelCommandOptions): Promise<KernelRun[]> {
  const ops: Op[] = o.op === 'all' ? [...OPS] : isOp(o.op) ? [o.op] : []
  if (ops.length === 0) throw new UsageError(`unknown op ${JSON.stringify(o.op)}; one of ${OPS.join(', ')} or all`)
  if ((o.file === undefined) === (o.size === undefined)) throw new UsageError('give a FILE or --size N, not both')
  const imm = o.imm === undefined ? 0 : Number(o.imm)
  if (!Number.isInteger(imm) || imm < 0 || imm > 255)
    throw new UsageError(`--imm must be an integer 0..255, got ${o.imm}`)
  let key: Uint8Array | undefined
  if (o.key !== undefined) {
    if (!/^([0-9a-f]{2})+$/i.test(o.key)) throw new UsageError('--key must be hex bytes, e.g. 0a1b2c')
    key = Uint8Array.from(o.key.match(/../g) ?? [], (h) => Number.parseInt(h, 16))
  }
  await ready()
  const input = o.file !== undefined ? readInto(o.file) : generate(parseSize(o.size ?? '0'))
  const out = alloc(input.byteLength)
  const runs: KernelRun[] = []
  try {
    for (const op of ops) {
      const data = input.bytes
      const t0 = performance.now()
      const r = runOp(op, data, { imm, key, out: out.bytes })
      const ms = performance.now() - t0
      runs.push({ op, bytes: data.length, result: show(op, r), ms, gbps: data.length / ms / 1e6, backend: backend() })
    }
  } finally {
    out.free()
    input.free()
  }
  return runs
}

/** Prints runs as aligned text. */
export function formatRuns(runs: KernelRun[], source: string): string {
  const lines = [`input: ${source} (${formatSize(runs[0]?.bytes ?? 0)}, read into wasm memory)`]
  for (const r of runs) {
    lines.push(
      `${r.op.padEnd(8)} ${r.result.padEnd(40)} ${r.ms.toFixed(1).padStart(8)} ms ${r.gbps.toFixed(2).padStart(7)} GB/s (${r.backend})`,
    )
  }
  return lines.join('\n')
}

/** A mistake in the command line: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}
