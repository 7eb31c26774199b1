import type { WgslTask } from '../compute/gpu/gpu-executor.js'
import { decodeWgslTask, resolveWgslLimits, type WgslLimits } from '../compute/gpu/remote-wgsl.js'
import { MAP_KERNEL } from '../compute/mesh/map/batch-codec.js'
import {
  AbortError,
  GpuUnavailableError,
  KernelNotFoundError,
  PayloadTooLargeError,
  RateLimitedError,
  UntrustedCodeError,
} from '../errors.js'
import { CODE_PROTOCOL } from '../wire/code.js'
import { toBase64 } from './base64.js'
import { bundleName } from './bundle-name.js'
import { type DialProtocol, readBundle } from './code-fetch.js'
import type { CodeManifest } from './manifest.js'
import { verifyBundle } from './verify.js'

/** Bounds on the code an executor fetches and keeps. */
export interface CodeStoreLimits {
  /** Verified kernels kept (least recently used goes first). */
  maxEntries: number
  /** Bytes of verified code kept. */
  maxBytes: number
  /** Bytes of bundles being fetched at once, all peers. */
  fetchBudgetBytes: number
  /** Fetches in flight from one peer. */
  fetchesPerPeer: number
  /** Longest fetch, ms. */
  fetchTimeoutMs: number
}

/** Defaults of `CodeStoreLimits`. */
export const CODE_STORE_LIMITS: CodeStoreLimits = {
  maxEntries: 64,
  maxBytes: 64 * 1024 * 1024,
  fetchBudgetBytes: 32 * 1024 * 1024,
  fetchesPerPeer: 2,
  fetchTimeoutMs: 30_000,
}

/** Where verified kernels run (a worker pool for traveling code). */
export interface CodePool {
  registerKernel(name: string, moduleUrl: string): void
  unregisterKernel(name: string): void
  run<T = unknown>(
    kernel: string,
    input: unknown,
    opts: { params?: unknown; signal?: AbortSignal; transfer?: ArrayBuffer[]; timeoutMs?: number },
  ): Promise<T>
  stop(): Promise<void>
}

/** Options of a CodeStore. */
export interface CodeStoreInit {
  /** Publisher keys whose code runs here (`ed25519:…`); checked by the caller. */
  trust: readonly string[]
  /** Where kernel bundles run; without one, kernel bundles are refused (`KernelNotFoundError`). */
  pool?: CodePool
  /** Where WGSL bundles run (this node's GPU); without it, they are refused (`GpuUnavailableError`). */
  gpu?: (task: WgslTask, signal?: AbortSignal) => Promise<Uint8Array>
  /** Overrides of `WGSL_LIMITS` for WGSL tasks from other peers. */
  wgslLimits?: Partial<WgslLimits>
  dial: DialProtocol
  /** Bundles this node holds itself (its own published ones): run without a fetch, verified all the same. */
  own?: (name: string) => Uint8Array | undefined
  limits?: Partial<CodeStoreLimits>
  log?: (line: string) => void
}

interface Entry {
  manifest: CodeManifest
  size: number
  /** A `wgsl` bundle's verified source. */
  shader?: string
}

/**
 * An executor's traveling code: fetches a bundle by name from the peer that
 * asked for it, checks that its bytes hash to the name and that `verifyBundle`
 * accepts it against `trust` before the pool ever sees it, then registers it
 * with the pool and keeps it (an LRU bounded by count and bytes). One fetch per
 * name at a time; fetches bounded per peer and by a node-wide byte budget.
 */
export class CodeStore {
  private readonly init: CodeStoreInit
  private readonly limits: CodeStoreLimits
  private readonly wgslLimits: WgslLimits
  private readonly cache = new Map<string, Entry>()
  private readonly inflight = new Map<string, Promise<Entry>>()
  private readonly perPeer = new Map<string, number>()
  private readonly aborts = new Set<AbortController>()
  private cachedBytes = 0
  private fetchingBytes = 0
  private stopped = false

  constructor(init: CodeStoreInit) {
    this.init = init
    this.limits = { ...CODE_STORE_LIMITS, ...init.limits }
    this.wgslLimits = resolveWgslLimits(init.wgslLimits)
  }

  /** Verified kernels held and their bytes, for status and tests. */
  stats(): { entries: number; bytes: number; fetching: number } {
    return { entries: this.cache.size, bytes: this.cachedBytes, fetching: this.inflight.size }
  }

  /**
   * Runs bundle `name` over `input`: a kernel on the pool, a WGSL shader on
   * the GPU (`params` and `input` its buffers and dispatch: `decodeWgslTask`,
   * checked before any GPU resource is made). The bundle comes from `peer`
   * when not held. Refusals: `UntrustedCodeError` (the bundle failed
   * verification), `RateLimitedError` (fetch bounds), `PayloadTooLargeError`
   * (the manifest's or this node's limits), `KernelNotFoundError` (the peer
   * serves no such bundle, or no pool runs kernels here), `GpuUnavailableError`
   * (no GPU here), `BindingMismatchError` and `GpuLimitError` (a WGSL task that
   * does not fit its shader or the limits).
   */
  async run(
    name: string,
    peer: string,
    input: unknown,
    opts: { params?: unknown; signal?: AbortSignal; transfer?: ArrayBuffer[] },
  ): Promise<{ output: unknown; substrate: 'cpu' | 'webgpu' }> {
    const entry = await this.ensure(name, peer, opts.signal)
    const max = entry.manifest.limits.maxInputBytes
    if (max !== undefined && input instanceof Uint8Array && input.length > max)
      throw new PayloadTooLargeError(`input of ${input.length} bytes exceeds the code's limit of ${max}`)
    if (entry.shader !== undefined) {
      if (!this.init.gpu) throw new GpuUnavailableError('this node runs no WGSL: it has no GPU')
      if (!(input instanceof Uint8Array)) throw new TypeError('a WGSL task takes its buffers as bytes')
      const task = decodeWgslTask(entry.shader, entry.manifest, opts.params, input, this.wgslLimits)
      return { output: await this.init.gpu(task, opts.signal), substrate: 'webgpu' }
    }
    if (!this.init.pool) throw new KernelNotFoundError('this node runs no traveling kernels')
    const output = await this.init.pool.run(name, input, { ...opts, timeoutMs: entry.manifest.limits.timeoutMs })
    return { output, substrate: 'cpu' }
  }

  /** The verified kernel `name`, fetched from `peer` if not held; registered with the pool. */
  async ensure(name: string, peer: string, signal?: AbortSignal): Promise<Entry> {
    if (this.stopped) throw new AbortError('the code store stopped')
    const hit = this.cache.get(name)
    if (hit) {
      this.cache.delete(name) // re-inserted: most recently used last
      this.cache.set(name, hit)
      return hit
    }
    let p = this.inflight.get(name)
    if (!p) {
      p = this.load(name, peer).finally(() => this.inflight.delete(name))
      this.inflight.set(name, p)
    }
    if (!signal) return p
    return new Promise<Entry>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason)
      const onAbort = () => reject(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
      ;(p as Promise<Entry>).then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
    })
  }

  /** Aborts every fetch, forgets every kernel and stops the pool. */
  async stop(): Promise<void> {
    this.stopped = true
    for (const ac of this.aborts) ac.abort(new AbortError('the code store stopped'))
    this.cache.clear()
    this.cachedBytes = 0
    await this.init.pool?.stop()
  }

  /**
   * Runs a map batch (bytes of items in, bytes of results out) through bundle
   * `name`, fetched from `peer` when not held; `params` are the batch's
   * (`{ kernel: name, params }`). The manifest's timeout bounds the batch.
   */
  async runBatch(
    name: string,
    peer: string,
    batch: unknown,
    opts: { params?: unknown; signal?: AbortSignal; transfer?: ArrayBuffer[] },
  ): Promise<unknown> {
    const entry = await this.ensure(name, peer, opts.signal)
    if (entry.shader !== undefined)
      throw new KernelNotFoundError(`${name} is a WGSL shader: map batches run kernels only`)
    const pool: CodePool | undefined = this.init.pool
    if (!pool) throw new KernelNotFoundError('this node runs no traveling kernels')
    return pool.run(MAP_KERNEL, batch, { ...opts, timeoutMs: entry.manifest.limits.timeoutMs })
  }

  private async load(name: string, peer: string): Promise<Entry> {
    const bundle = this.init.own?.(name) ?? (await this.fetch(name, peer))
    // the name is the bundle's hash: bytes that do not hash to it are not the code the task named
    if ((await bundleName(bundle)) !== name)
      throw new UntrustedCodeError('code-mismatch', 'refused a bundle whose bytes do not hash to its name')
    const v = await verifyBundle(bundle, { trust: this.init.trust })
    if (this.stopped) throw new AbortError('the code store stopped')
    const entry: Entry = { manifest: v.manifest, size: v.code.length }
    if (v.manifest.kind === 'wgsl') {
      if (!this.init.gpu) throw new GpuUnavailableError('this node runs no WGSL: it has no GPU')
      entry.shader = shaderSource(v.code, v.manifest.name)
    } else {
      if (!this.init.pool) throw new KernelNotFoundError('this node runs no traveling kernels')
      this.init.pool.registerKernel(name, moduleUrl(v.code, v.manifest.entry))
    }
    this.cache.set(name, entry)
    this.cachedBytes += entry.size
    this.evict()
    this.init.log?.(`verified ${v.manifest.name}@${v.manifest.version} (${name}) signed by ${v.publicKey}`)
    return entry
  }

  private async fetch(name: string, peer: string): Promise<Uint8Array> {
    const n = this.perPeer.get(peer) ?? 0
    if (n >= this.limits.fetchesPerPeer) throw new RateLimitedError('too many code fetches from this peer at once')
    this.perPeer.set(peer, n + 1)
    const ac = new AbortController()
    this.aborts.add(ac)
    const timer = setTimeout(() => ac.abort(new AbortError('the code fetch timed out')), this.limits.fetchTimeoutMs)
    let reserved = 0
    try {
      const stream = await this.init.dial(peer, CODE_PROTOCOL, { signal: ac.signal })
      return await readBundle(
        stream,
        name,
        (length) => {
          if (this.fetchingBytes + length > this.limits.fetchBudgetBytes) return false
          this.fetchingBytes += length
          reserved = length
          return true
        },
        ac.signal,
      )
    } finally {
      clearTimeout(timer)
      this.aborts.delete(ac)
      this.fetchingBytes -= reserved
      const left = (this.perPeer.get(peer) ?? 1) - 1
      if (left > 0) this.perPeer.set(peer, left)
      else this.perPeer.delete(peer)
    }
  }

  private evict(): void {
    for (const [name, e] of this.cache) {
      if (this.cache.size <= this.limits.maxEntries && this.cachedBytes <= this.limits.maxBytes) return
      this.cache.delete(name)
      this.cachedBytes -= e.size
      if (e.shader === undefined) this.init.pool?.unregisterKernel(name)
    }
  }
}

/**
 * The verified code as a module URL for the worker: a `data:` URL (nothing
 * written to disk). The manifest's `entry` becomes the default export the
 * workers call; `entry` is a checked identifier, so the suffix is inert.
 */
function moduleUrl(code: Uint8Array, entry: string): string {
  const suffix = entry === 'default' ? '' : `\nexport { ${entry} as default };\n`
  const src = new Uint8Array(code.length + suffix.length)
  src.set(code)
  src.set(new TextEncoder().encode(suffix), code.length)
  return `data:text/javascript;base64,${toBase64(src)}`
}

/** A verified shader's text: UTF-8 as the publisher signed it (bytes that are not UTF-8 are a malformed bundle). */
function shaderSource(code: Uint8Array, name: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(code)
  } catch {
    throw new UntrustedCodeError('malformed', `refused ${name}: the shader is not UTF-8 text`)
  }
}
