/**
 * @packageDocumentation
 *
 * PeerCompute's data kernels over `Uint8Array`s: `counteq`, `crc32c`, `fnv64`,
 * `xor` and `add`. A WebAssembly (SIMD) fast path, inlined so the package loads
 * anywhere with no file loader, and a plain-JS path where WebAssembly is
 * missing; both give identical results. Zero runtime dependencies.
 *
 * @example
 * ```ts
 * import { crc32c, crc32cCombine, fnv64, alloc, ready } from '@peercompute/kernels'
 *
 * await ready()                       // optional: wasm is compiled at import where allowed
 * crc32c(new TextEncoder().encode('123456789')) // 0xe3069283
 *
 * // zero-copy: put the data where the kernel runs
 * const buf = alloc(1 << 20)
 * buf.bytes.fill(7)
 * const crc = crc32c(buf.bytes)
 * buf.free()
 * ```
 *
 * Lifetime of `alloc()`ed memory: a `WasmBuffer` is valid until `free()`, but a
 * `Uint8Array` taken from its `bytes` is detached when wasm memory grows, which
 * only an `alloc()` can cause. Re-read `buf.bytes` after any `alloc()`, or
 * allocate everything first. Kernels reject detached views with a `TypeError`.
 */
import { combineCrc } from './gf2.js'
import { addJs, counteqJs, crc32cJs, fnv64Js, xorJs } from './js-kernels.js'
import { checkBytes, checkInt, checkU64 } from './validate.js'
import { compileAsync, compileSync, type WasmKernels } from './wasm-kernels.js'

/** FNV-1a 64 offset basis: the hash of zero bytes, and the default seed. */
export const FNV64_OFFSET = 0xcbf29ce484222325n
/** FNV-1a 64 prime. */
export const FNV64_PRIME = 0x100000001b3n

/** Which implementation runs the kernels. */
export type Backend = 'wasm' | 'js'

/** The kernels, bound to one backend. Every function validates its arguments. */
export interface Kernels {
  readonly backend: Backend
  /** Number of bytes of `data` equal to `imm` (0..255). */
  counteq(data: Uint8Array, imm: number): number
  /** CRC-32C (Castagnoli) of `data`, continuing from the finished CRC `seed` (default 0). */
  crc32c(data: Uint8Array, seed?: number): number
  /** 64-bit FNV-1a of `data`; `seed` is the running state (default the offset basis). */
  fnv64(data: Uint8Array, seed?: bigint): bigint
  /**
   * `data` xored with `key` (a byte, or bytes repeated from `data[0]`), into `out`
   * (default a new array; may be `data` itself for in place).
   */
  xor(data: Uint8Array, key: number | Uint8Array, out?: Uint8Array): Uint8Array
  /** `data` plus `imm` (0..255) modulo 256 per byte, into `out` (default new; may be `data`). */
  add(data: Uint8Array, imm: number, out?: Uint8Array): Uint8Array
}

let wasm: WasmKernels | undefined = compileSync()
let pending: Promise<void> | undefined

/**
 * Resolves once the wasm path is in use, or once it is known to be unavailable
 * (then the JS path serves; results are identical). Until then the JS path runs.
 */
export function ready(): Promise<void> {
  if (wasm) return Promise.resolve()
  pending ??= compileAsync().then(
    (w) => {
      wasm = w
    },
    () => undefined,
  )
  return pending
}

/** The backend the top-level functions use right now. */
export function backend(): Backend {
  return wasm ? 'wasm' : 'js'
}

function checkOut(data: Uint8Array, out: Uint8Array | undefined): Uint8Array {
  if (out === undefined) return new Uint8Array(data.length)
  checkBytes('out', out)
  if (out.length !== data.length) {
    throw new RangeError(`out must have the same length as data (${data.length}), got ${out.length}`)
  }
  if (out !== data && out.buffer === data.buffer) {
    const a = data.byteOffset
    const b = out.byteOffset
    if (out.byteOffset !== data.byteOffset && a < b + out.length && b < a + data.length) {
      throw new RangeError('out overlaps data: pass data itself for in place, or a separate array')
    }
  }
  return out
}

function checkKey(key: unknown): Uint8Array | number {
  if (typeof key === 'number') {
    checkInt('key', key, 0, 255)
    return key
  }
  checkBytes('key', key)
  if (key.length === 0) throw new RangeError('key must not be empty')
  return key
}

function bind(getWasm: () => WasmKernels | undefined): Kernels {
  return {
    get backend() {
      return getWasm() ? 'wasm' : 'js'
    },
    counteq(data, imm) {
      checkBytes('data', data)
      checkInt('imm', imm, 0, 255)
      const w = getWasm()
      return w ? w.counteq(data, imm) : counteqJs(data, imm)
    },
    crc32c(data, seed = 0) {
      checkBytes('data', data)
      checkInt('seed', seed, 0, 0xffffffff)
      const w = getWasm()
      return w ? w.crc32c(data, seed) : crc32cJs(data, seed)
    },
    fnv64(data, seed = FNV64_OFFSET) {
      checkBytes('data', data)
      checkU64('seed', seed)
      const w = getWasm()
      return w ? w.fnv64(data, seed) : fnv64Js(data, seed)
    },
    xor(data, key, out) {
      checkBytes('data', data)
      const k = checkKey(key)
      const o = checkOut(data, out)
      const w = getWasm()
      if (w && (typeof k === 'number' || w.canXor(k))) w.xor(data, k, o)
      else xorJs(data, typeof k === 'number' ? Uint8Array.of(k) : k, o, 0)
      return o
    },
    add(data, imm, out) {
      checkBytes('data', data)
      checkInt('imm', imm, 0, 255)
      const o = checkOut(data, out)
      const w = getWasm()
      if (w) w.add(data, imm, o)
      else addJs(data, imm, o)
      return o
    },
  }
}

const auto = bind(() => wasm)
const jsOnly = bind(() => undefined)

/**
 * The kernels on a chosen backend: `'js'` always works; `'wasm'` throws if
 * WebAssembly is unavailable (await `ready()` first in a browser's main thread).
 */
export function getKernels(b: Backend): Kernels {
  if (b === 'js') return jsOnly
  if (!wasm) throw new Error('the wasm backend is not available (await ready(); WebAssembly SIMD may be missing)')
  return auto
}

/** Number of bytes of `data` equal to `imm` (0..255). */
export const counteq = (data: Uint8Array, imm: number): number => auto.counteq(data, imm)
/** CRC-32C of `data`, continuing from the finished CRC `seed` (default 0). */
export const crc32c = (data: Uint8Array, seed?: number): number => auto.crc32c(data, seed)
/** 64-bit FNV-1a of `data`, continuing from `seed` (the running state; default the offset basis). */
export const fnv64 = (data: Uint8Array, seed?: bigint): bigint => auto.fnv64(data, seed)
/** `data` xored with a byte or a repeated key, into `out` (default a new array; may be `data`). */
export const xor = (data: Uint8Array, key: number | Uint8Array, out?: Uint8Array): Uint8Array =>
  auto.xor(data, key, out)
/** `data` plus `imm` modulo 256 per byte, into `out` (default a new array; may be `data`). */
export const add = (data: Uint8Array, imm: number, out?: Uint8Array): Uint8Array => auto.add(data, imm, out)

/**
 * CRC-32C of `A || B` given `crcA = crc32c(A)`, `crcB = crc32c(B)` and `lengthB`
 * in bytes. O(log lengthB): lets pieces hashed apart be combined.
 */
export function crc32cCombine(crcA: number, crcB: number, lengthB: number): number {
  checkInt('crcA', crcA, 0, 0xffffffff)
  checkInt('crcB', crcB, 0, 0xffffffff)
  checkInt('lengthB', lengthB, 0, Number.MAX_SAFE_INTEGER)
  return combineCrc(crcA, crcB, lengthB)
}

/** A streaming hash: feed chunks in order with `update`, read with `digest`. */
export interface Hasher<T> {
  update(chunk: Uint8Array): this
  /** The hash of everything fed so far; more chunks may follow. */
  digest(): T
}

/** Streaming CRC-32C, continuing from `seed` (default 0). */
export function createCrc32c(seed = 0): Hasher<number> {
  checkInt('seed', seed, 0, 0xffffffff)
  let c = seed
  return {
    update(chunk) {
      c = crc32c(chunk, c)
      return this
    },
    digest: () => c,
  }
}

/** Streaming 64-bit FNV-1a, continuing from `seed` (default the offset basis). */
export function createFnv64(seed: bigint = FNV64_OFFSET): Hasher<bigint> {
  checkU64('seed', seed)
  let h = seed
  return {
    update(chunk) {
      h = fnv64(chunk, h)
      return this
    },
    digest: () => h,
  }
}

/** Memory from `alloc()`: lives where the kernels run, so they read it with no copy. */
export interface WasmBuffer {
  readonly byteLength: number
  /** A view of the buffer. Views die when wasm memory grows (any `alloc()`): re-read this. */
  readonly bytes: Uint8Array
  /** Returns the memory; the buffer must not be used afterwards. */
  free(): void
}

/**
 * `byteLength` bytes in the kernels' wasm memory (zeroed), for data to land in
 * with no copy: read a file or a fetch body into `buf.bytes`, then run kernels
 * on it. On the JS backend this is an ordinary buffer and the API is the same.
 */
export function alloc(byteLength: number): WasmBuffer {
  checkInt('byteLength', byteLength, 0, 2 ** 32 - HEAP_RESERVE)
  const w = wasm
  if (!w) {
    let bytes: Uint8Array | undefined = new Uint8Array(byteLength)
    return {
      byteLength,
      get bytes() {
        if (!bytes) throw new Error('WasmBuffer used after free()')
        return bytes
      },
      free() {
        bytes = undefined
      },
    }
  }
  const ptr = w.heap.alloc(byteLength)
  let live = true
  w.memory().fill(0, ptr, ptr + byteLength)
  return {
    byteLength,
    get bytes() {
      if (!live) throw new Error('WasmBuffer used after free()')
      return w.memory().subarray(ptr, ptr + byteLength)
    },
    free() {
      if (!live) throw new Error('WasmBuffer freed twice')
      live = false
      w.heap.release(ptr)
    },
  }
}

/** Space below the 4 GiB wasm32 limit kept for the tables and scratch. */
const HEAP_RESERVE = 1 << 20
