// npm run bench:kernels — GB/s of each kernel at 64 MiB and 4 KiB next to
// references measured in this same run (timed alternately with ours), with the
// ratio and the target. A benchmark: it prints, it never asserts.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { crc32c as nativeCrc32c } from '@node-rs/crc32'
import * as k from '@peercompute/kernels'
import { createCRC32 } from 'hash-wasm'
import { pairedMs, printTable, type Row, repeat } from './lib/measure.ts'

const BIG = 64 << 20
const SMALL = 4096
const SMALL_REPS = 4096

await k.ready()
if (k.backend() !== 'wasm') throw new Error('wasm backend unavailable: nothing to benchmark')
const wasmK = k.getKernels('wasm')
const jsK = k.getKernels('js')

// V8 slows JS typed-array loops for good once any ArrayBuffer is detached;
// real programs detach (worker transfers, wasm growth), so measure in that state.
const victim = new ArrayBuffer(8)
structuredClone(victim, { transfer: [victim] })

function fill(a: Uint8Array): void {
  for (let i = 0; i < a.length; i++) a[i] = (Math.imul(i, 2654435761) >>> 13) & 0xff
}

/** A native FNV-1a 64 (C, -O2) timed by itself over the same sizes: the speed bound. */
function nativeFnvGbps(bytes: number, reps: number): number | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'pc-bench-'))
  try {
    const exe = join(dir, 'fnv1a64')
    execFileSync('cc', ['-O2', '-o', exe, new URL('./native/fnv1a64.c', import.meta.url).pathname])
    return Number.parseFloat(execFileSync(exe, [String(bytes), String(reps), '9'], { encoding: 'utf8' }))
  } catch {
    console.log('(no C compiler: the native FNV reference is skipped)')
    return undefined
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const hw = await createCRC32(0x82f63b78)
const hashWasmCrc = (d: Uint8Array) => {
  hw.init()
  hw.update(d)
  return hw.digest('binary')
}

const rows: Row[] = []
for (const [size, bytes, reps] of [
  ['64 MiB', BIG, 1],
  ['4 KiB', SMALL, SMALL_REPS],
] as const) {
  const inWasm = k.alloc(bytes)
  const outWasm = k.alloc(bytes)
  fill(inWasm.bytes)
  const data = inWasm.bytes
  const out = outWasm.bytes
  const plain = data.slice()
  const plainBuf = Buffer.from(plain.buffer, plain.byteOffset, plain.length)
  const copyDst = new Uint8Array(bytes)
  // written pages: a never-written Buffer.alloc would read the shared zero page
  const haystack = Buffer.alloc(bytes, 2)
  const jsOut = new Uint8Array(bytes)
  const total = bytes * reps
  const gb = (ms: number) => total / ms / 1e6

  const row = (what: string, fn: () => unknown, reference: string, ref: () => unknown, target?: number, rounds = 9) => {
    const r = pairedMs(repeat(reps, fn), repeat(reps, ref), rounds)
    rows.push({ what, size, value: gb(r.ms), reference, refValue: gb(r.refMs), target })
  }
  const copy = () => copyDst.set(plain)
  const read = () => haystack.indexOf(1)

  row(
    'crc32c wasm',
    () => wasmK.crc32c(data),
    'hash-wasm crc32c',
    () => hashWasmCrc(plain),
    1.25,
  )
  row(
    'crc32c wasm, data outside wasm',
    () => wasmK.crc32c(plain),
    'hash-wasm crc32c',
    () => hashWasmCrc(plain),
  )
  row(
    'crc32c wasm',
    () => wasmK.crc32c(data),
    '@node-rs/crc32 (native SSE4.2, info)',
    () => nativeCrc32c(plainBuf),
  )
  const fnvNative = nativeFnvGbps(bytes, reps)
  const fnvOurs = pairedMs(
    repeat(reps, () => wasmK.fnv64(data)),
    () => undefined,
  ).ms
  rows.push({
    what: 'fnv64 wasm',
    size,
    value: gb(fnvOurs),
    reference: 'native C FNV-1a -O2',
    refValue: fnvNative,
    target: 0.9,
  })
  row('counteq wasm', () => wasmK.counteq(data, 7), 'Buffer.indexOf miss (memchr read)', read, 0.7)
  row('counteq wasm, data outside wasm', () => wasmK.counteq(plain, 7), 'Buffer.indexOf miss (memchr read)', read)
  row('xor wasm, byte key', () => wasmK.xor(data, 0x5a, out), 'Uint8Array.set (copy)', copy, 0.7)
  row('xor wasm, 5-byte key', () => wasmK.xor(data, Uint8Array.of(1, 2, 3, 4, 5), out), 'Uint8Array.set (copy)', copy)
  row('add wasm', () => wasmK.add(data, 3, out), 'Uint8Array.set (copy)', copy, 0.7)
  row('add wasm, out outside wasm', () => wasmK.add(data, 3, jsOut), 'Uint8Array.set (copy)', copy)

  const jsRounds = bytes === BIG ? 3 : 9
  row(
    'crc32c JS (detached state)',
    () => jsK.crc32c(plain),
    'hash-wasm crc32c',
    () => hashWasmCrc(plain),
    undefined,
    jsRounds,
  )
  const fnvJs = pairedMs(
    repeat(reps, () => jsK.fnv64(plain)),
    () => undefined,
    jsRounds,
  ).ms
  rows.push({
    what: 'fnv64 JS (detached state)',
    size,
    value: gb(fnvJs),
    reference: 'native C FNV-1a -O2',
    refValue: fnvNative,
  })
  row(
    'counteq JS (detached state)',
    () => jsK.counteq(plain, 7),
    'Buffer.indexOf miss (memchr read)',
    read,
    undefined,
    jsRounds,
  )
  row('xor JS (detached state)', () => jsK.xor(plain, 0x5a, jsOut), 'Uint8Array.set (copy)', copy, undefined, jsRounds)
  row('add JS (detached state)', () => jsK.add(plain, 3, jsOut), 'Uint8Array.set (copy)', copy, undefined, jsRounds)
  inWasm.free()
  outWasm.free()
}
printTable(rows, 'GB/s')
console.log(
  '\nMedians of 9 rounds (JS at 64 MiB: 3), ours and the reference timed alternately.' +
    "\n4 KiB rows call the kernel 4096 times over one buffer (cache-hot). Targets are the issue's, for 64 MiB.",
)
