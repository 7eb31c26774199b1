import { Heap } from './heap.js'
import { buildShiftTables, CRC_TABLES } from './tables.js'
import { WASM_BASE64, WASM_LAYOUT } from './wasm-module.generated.js'

const PAGE = 65536
/** Where xor patterns are expanded (16 KiB .. 64 KiB). */
const PATTERN_PTR = 16384
const PATTERN_MAX = PAGE - PATTERN_PTR
/** Data outside wasm memory is staged through here a chunk at a time; it stays in L2. */
const CHUNK = 128 * 1024
/** Two staging areas (in and out), each a chunk plus a page of slack for placement. */
const STAGE_IN = PAGE
const STAGE_OUT = STAGE_IN + CHUNK + 4096
const HEAP_BASE = Math.ceil((STAGE_OUT + CHUNK + 4096) / PAGE) * PAGE

/**
 * Where to stage a chunk that is copied to or from `externalOffset` of another
 * buffer: half a page away from it modulo 4 KiB. memcpy between addresses that
 * are equal modulo 4 KiB is 4-5x slower here (4K aliasing), and both wasm memory
 * and large ArrayBuffers are page-aligned.
 */
function stage(area: number, externalOffset: number): number {
  return area + ((externalOffset + 2048) & 4095)
}

interface Exports {
  memory: WebAssembly.Memory
  crc32c(p: number, len: number, crc: number): number
  fnv64(p: number, len: number, h: bigint): bigint
  counteq(p: number, len: number, imm: number): number
  xor_pattern(src: number, dst: number, len: number, pat: number, patLen: number, phase: number): void
  add_imm(src: number, dst: number, len: number, imm: number): void
}

/** The raw WebAssembly kernels; arguments are validated by the caller. */
export class WasmKernels {
  readonly heap: Heap
  private readonly ex: Exports
  /** memory.buffer, cached: its getter is slow, and only our heap grows memory. */
  private buf: ArrayBuffer
  private mem: Uint8Array
  private patternKey: Uint8Array | undefined
  private patternByte = -1
  private patternLen = 0

  constructor(module: WebAssembly.Module) {
    this.ex = new WebAssembly.Instance(module).exports as unknown as Exports
    const memory = this.ex.memory
    memory.grow(HEAP_BASE / PAGE - memory.buffer.byteLength / PAGE)
    this.buf = memory.buffer
    this.mem = new Uint8Array(this.buf)
    const u32 = new Uint32Array(memory.buffer)
    u32.set(CRC_TABLES, 0)
    u32.set(buildShiftTables(WASM_LAYOUT.crcLaneBig), WASM_LAYOUT.shiftBig / 4)
    u32.set(buildShiftTables(WASM_LAYOUT.crcLaneSmall), WASM_LAYOUT.shiftSmall / 4)
    this.heap = new Heap(HEAP_BASE, HEAP_BASE, (minEnd) => {
      const end = this.buf.byteLength
      if (minEnd > end) {
        memory.grow(Math.ceil((minEnd - end) / PAGE))
        this.buf = memory.buffer
        this.mem = new Uint8Array(this.buf)
      }
      return this.buf.byteLength
    })
  }

  /** The whole linear memory (a fresh view after growth, which detaches old views). */
  memory(): Uint8Array {
    return this.mem
  }

  /** True if `a` is a view of this module's memory (zero-copy). */
  owns(a: Uint8Array): boolean {
    return a.buffer === this.buf
  }

  /** Runs `fn` over `data` chunk by chunk, staged into wasm memory (data outside it). */
  private each(data: Uint8Array, fn: (ptr: number, len: number) => void): void {
    const mem = this.memory()
    for (let off = 0; off < data.length; off += CHUNK) {
      const chunk = data.subarray(off, off + CHUNK)
      const at = stage(STAGE_IN, chunk.byteOffset)
      mem.set(chunk, at)
      fn(at, chunk.length)
    }
  }

  counteq(data: Uint8Array, imm: number): number {
    if (this.owns(data)) return this.ex.counteq(data.byteOffset, data.length, imm) >>> 0
    let n = 0
    this.each(data, (p, len) => {
      n += this.ex.counteq(p, len, imm) >>> 0
    })
    return n
  }

  crc32c(data: Uint8Array, crc: number): number {
    if (this.owns(data)) return this.ex.crc32c(data.byteOffset, data.length, crc | 0) >>> 0
    let c = crc | 0
    this.each(data, (p, len) => {
      c = this.ex.crc32c(p, len, c)
    })
    return c >>> 0
  }

  fnv64(data: Uint8Array, seed: bigint): bigint {
    // i64 crosses the boundary as a signed bigint
    let h = BigInt.asIntN(64, seed)
    if (this.owns(data)) return BigInt.asUintN(64, this.ex.fnv64(data.byteOffset, data.length, h))
    this.each(data, (p, len) => {
      h = this.ex.fnv64(p, len, h)
    })
    return BigInt.asUintN(64, h)
  }

  /** False when the key's expanded pattern does not fit the pattern area: use the JS path. */
  canXor(key: Uint8Array): boolean {
    return patternLength(key.length) + WASM_LAYOUT.mapVectorBytes <= PATTERN_MAX
  }

  xor(data: Uint8Array, key: Uint8Array | number, out: Uint8Array): void {
    const patLen = typeof key === 'number' ? this.loadBytePattern(key) : this.loadPattern(key)
    if (this.owns(data) && this.owns(out)) {
      this.ex.xor_pattern(data.byteOffset, out.byteOffset, data.length, PATTERN_PTR, patLen, 0)
      return
    }
    this.map(data, out, (src, dst, len, offset) =>
      this.ex.xor_pattern(src, dst, len, PATTERN_PTR, patLen, offset % patLen),
    )
  }

  add(data: Uint8Array, imm: number, out: Uint8Array): void {
    if (this.owns(data) && this.owns(out)) {
      this.ex.add_imm(data.byteOffset, out.byteOffset, data.length, imm)
      return
    }
    this.map(data, out, (src, dst, len) => this.ex.add_imm(src, dst, len, imm))
  }

  /** Element-wise op from `data` into `out`, each wherever it lives. */
  private map(
    data: Uint8Array,
    out: Uint8Array,
    op: (src: number, dst: number, len: number, offset: number) => void,
  ): void {
    if (this.owns(out)) {
      if (this.owns(data)) {
        op(data.byteOffset, out.byteOffset, data.length, 0)
      } else {
        out.set(data)
        op(out.byteOffset, out.byteOffset, out.length, 0)
      }
      return
    }
    const mem = this.memory()
    const dataOwned = this.owns(data)
    for (let off = 0; off < data.length; off += CHUNK) {
      const len = Math.min(CHUNK, data.length - off)
      const dst = stage(STAGE_OUT, out.byteOffset + off)
      let src = data.byteOffset + off
      if (!dataOwned) {
        const at = stage(STAGE_IN, src)
        mem.set(data.subarray(off, off + len), at)
        src = at
      }
      op(src, dst, len, off)
      out.set(mem.subarray(dst, dst + len), off)
    }
  }

  /** The pattern for a one-byte key; returns the period used. */
  private loadBytePattern(b: number): number {
    if (this.patternByte === b) return this.patternLen
    const patLen = patternLength(1)
    this.memory().fill(b, PATTERN_PTR, PATTERN_PTR + patLen + WASM_LAYOUT.mapVectorBytes)
    this.patternByte = b
    this.patternKey = undefined
    this.patternLen = patLen
    return patLen
  }

  /** Writes `key` repeated into the pattern area (cached for the last key); returns the period used. */
  private loadPattern(key: Uint8Array): number {
    const prev = this.patternKey
    if (prev && sameBytes(prev, key)) return this.patternLen
    const patLen = patternLength(key.length)
    const mem = this.memory()
    for (let i = 0; i < patLen + WASM_LAYOUT.mapVectorBytes; i++) mem[PATTERN_PTR + i] = key[i % key.length]
    this.patternKey = key.slice()
    this.patternByte = -1
    this.patternLen = patLen
    return patLen
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** Smallest multiple of the key length that is also a multiple of 16 and at least one unrolled step. */
function patternLength(k: number): number {
  let l = k
  while (l % 16 !== 0) l += k
  while (l < WASM_LAYOUT.mapVectorBytes) l *= 2
  return l
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const s = atob(WASM_BASE64)
  const b = new Uint8Array(s.length)
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i)
  return b
}

/** Compiles synchronously where allowed (Node, workers, small modules); undefined where not. */
export function compileSync(): WasmKernels | undefined {
  if (typeof WebAssembly === 'undefined') return undefined
  try {
    return new WasmKernels(new WebAssembly.Module(moduleBytes()))
  } catch {
    return undefined
  }
}

/** Compiles asynchronously; rejects where WebAssembly (or its SIMD) is unavailable. */
export async function compileAsync(): Promise<WasmKernels> {
  if (typeof WebAssembly === 'undefined') throw new Error('WebAssembly is not available')
  return new WasmKernels(await WebAssembly.compile(moduleBytes()))
}
