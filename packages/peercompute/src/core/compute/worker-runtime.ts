import * as kernels from '@peercompute/kernels'
import { isOp, type Op } from '../ops.js'
import { MAP_KERNEL } from './mesh/map/batch-codec.js'
import { mapBatchParams, runBatch } from './mesh/map/run-batch.js'
import type { FromWorker, TaskMessage, TaskOutcome, ToWorker } from './messages.js'
import { type ContentPin, fetchRange, isRangeInput, type RangeInput, type RangeTransport } from './range-fetch.js'
import { type ResolvedUrlPolicy, resolveUrlPolicy } from './url-policy.js'

/** What a worker needs from its platform: a port to the pool, a module loader and an HTTP client for URL ranges. */
export interface WorkerPort {
  post(msg: FromWorker, transfer: ArrayBuffer[]): void
  onMessage(cb: (msg: ToWorker) => void): void
  importModule(url: string): Promise<Record<string, unknown>>
  /** Fetches URL ranges under the node's URL policy (see `RangeTransport`). */
  transport: RangeTransport
}

/** A kernel's signature: input and params in, output out (or a promise of it). */
export type KernelFn = (input: unknown, params: unknown, ctx: { signal: AbortSignal }) => unknown

interface BuiltinParams {
  imm?: number
  key?: Uint8Array
  seed?: number | bigint
}

function builtin(op: Op, input: unknown, params: BuiltinParams | undefined): unknown {
  if (!(input instanceof Uint8Array)) throw new TypeError(`${op}: input must be a Uint8Array`)
  const p = params ?? {}
  switch (op) {
    case 'counteq':
      return kernels.counteq(input, p.imm ?? 0)
    case 'crc32c':
      return kernels.crc32c(input, (p.seed as number | undefined) ?? 0)
    case 'fnv64':
      return kernels.fnv64(input, (p.seed as bigint | undefined) ?? kernels.FNV64_OFFSET)
    case 'xor':
    case 'add': {
      // the worker owns a transferred input: write in place and send it back;
      // never write into a caller's SharedArrayBuffer
      const out = isShared(input) ? new Uint8Array(input.length) : input
      return op === 'xor' ? kernels.xor(input, p.key ?? p.imm ?? 0, out) : kernels.add(input, p.imm ?? 0, out)
    }
  }
}

/** A built-in over a URL range: fetched straight into wasm memory, run there, freed. */
async function builtinOverRange(
  op: Op,
  range: RangeInput,
  params: BuiltinParams | undefined,
  fetching: { transport: RangeTransport; policy: ResolvedUrlPolicy; signal: AbortSignal },
): Promise<{ output: unknown; validator?: ContentPin }> {
  const buf = kernels.alloc(range.length)
  try {
    const validator = await fetchRange(range, () => buf.bytes, fetching)
    const out = builtin(op, buf.bytes, params)
    // xor/add wrote in place into wasm memory: hand back a copy that can travel
    return { output: out instanceof Uint8Array ? out.slice() : out, ...(validator ? { validator } : {}) }
  } finally {
    buf.free()
  }
}

function isShared(a: Uint8Array): boolean {
  return Object.prototype.toString.call(a.buffer) === '[object SharedArrayBuffer]'
}

/** Buffers of an output that can be transferred back instead of copied. */
function transferables(output: unknown): ArrayBuffer[] {
  if (output instanceof ArrayBuffer) return [output]
  if (ArrayBuffer.isView(output) && output.buffer instanceof ArrayBuffer) return [output.buffer]
  return []
}

/** Runs in every pool worker: executes task batches and answers with result batches. */
export function startWorkerRuntime(port: WorkerPort): void {
  const registered = new Map<string, string>()
  const loaded = new Map<string, Promise<KernelFn>>()
  /** Ids received and not yet answered, and those of them cancelled before they started. */
  const pending = new Set<number>()
  const cancelled = new Set<number>()
  const running = new Map<number, AbortController>()
  // the strictest policy until the pool says otherwise (it sends `init` first)
  let policy = resolveUrlPolicy(undefined)

  const load = (name: string): Promise<KernelFn> | undefined => {
    const url = registered.get(name)
    if (url === undefined) return undefined
    let p = loaded.get(name)
    if (!p) {
      p = port.importModule(url).then((mod) => {
        const fn = mod.default ?? mod.kernel
        if (typeof fn !== 'function') throw new TypeError(`kernel module ${url} exports no default function`)
        return fn as KernelFn
      })
      loaded.set(name, p)
    }
    return p
  }

  // a map batch: every item through the named kernel, in order (see mesh/map/)
  const runMap = async (t: TaskMessage): Promise<TaskOutcome> => {
    const { kernel, params } = mapBatchParams(t.params)
    let fn: KernelFn | undefined
    if (!isOp(kernel) || registered.has(kernel)) {
      const fnP = load(kernel)
      if (!fnP) return { id: t.id, ok: false, errorName: 'KernelNotFoundError', message: kernel, notFound: true }
      fn = await fnP
    }
    const ac = new AbortController()
    running.set(t.id, ac)
    try {
      // one frozen options object for the whole batch, not one allocated per item
      const opts = Object.freeze({ signal: ac.signal })
      const one = fn
        ? (item: unknown) => (fn as KernelFn)(item, params, opts)
        : (item: unknown) => builtin(kernel as Op, item, params as BuiltinParams)
      return { id: t.id, ok: true, output: await runBatch(t.input, one, ac.signal) }
    } finally {
      running.delete(t.id)
    }
  }

  const runOne = async (t: TaskMessage): Promise<TaskOutcome> => {
    if (cancelled.delete(t.id)) return { id: t.id, ok: false, errorName: 'AbortError', message: 'cancelled' }
    try {
      if (isOp(t.kernel) && !registered.has(t.kernel) && isRangeInput(t.input)) {
        const ac = new AbortController()
        running.set(t.id, ac)
        try {
          const r = await builtinOverRange(t.kernel, t.input, t.params as BuiltinParams, {
            transport: port.transport,
            policy,
            signal: ac.signal,
          })
          return { id: t.id, ok: true, ...r }
        } finally {
          running.delete(t.id)
        }
      }
      if (isOp(t.kernel) && !registered.has(t.kernel)) {
        return { id: t.id, ok: true, output: builtin(t.kernel, t.input, t.params as BuiltinParams) }
      }
      if (t.kernel === MAP_KERNEL) return await runMap(t)
      const fnP = load(t.kernel)
      if (!fnP) return { id: t.id, ok: false, errorName: 'KernelNotFoundError', message: t.kernel, notFound: true }
      const fn = await fnP
      const ac = new AbortController()
      running.set(t.id, ac)
      try {
        let out = fn(t.input, t.params, { signal: ac.signal })
        if (out instanceof Promise) out = await out
        return { id: t.id, ok: true, output: out }
      } finally {
        running.delete(t.id)
      }
    } catch (err) {
      const e = err as Error
      return { id: t.id, ok: false, errorName: e?.name ?? 'Error', message: e?.message ?? String(err) }
    }
  }

  const send = (results: TaskOutcome[]) => {
    const transfer = results.flatMap((r) => (r.ok ? transferables(r.output) : []))
    try {
      port.post({ type: 'results', results }, transfer)
    } catch {
      port.post({ type: 'results', results }, []) // e.g. an output viewing wasm memory: copy it
    }
  }

  port.onMessage(async (msg) => {
    switch (msg.type) {
      case 'init':
        try {
          policy = resolveUrlPolicy(msg.urlPolicy)
        } catch {
          policy = resolveUrlPolicy(undefined) // the pool checked it; should it not parse, the strictest
        }
        return
      case 'register':
        registered.set(msg.name, msg.moduleUrl)
        loaded.delete(msg.name)
        return
      case 'unregister':
        registered.delete(msg.name)
        loaded.delete(msg.name)
        return
      case 'cancel':
        running.get(msg.id)?.abort(new Error('cancelled'))
        if (pending.has(msg.id) && !running.has(msg.id)) cancelled.add(msg.id)
        return
      case 'tasks': {
        for (const t of msg.tasks) pending.add(t.id)
        const results: TaskOutcome[] = []
        for (const t of msg.tasks) {
          // sync kernels settle at once; only truly async ones make the batch wait
          results.push(await runOne(t))
          pending.delete(t.id)
          cancelled.delete(t.id)
        }
        send(results)
      }
    }
  })
}
