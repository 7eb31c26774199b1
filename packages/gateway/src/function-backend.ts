import {
  AbortError,
  Backoff,
  type BackoffInit,
  checkingLookup,
  checkUrl,
  DataSourceError,
  FunctionError,
  type GatewayBackend,
  type GatewayInfo,
  type GatewayKind,
  isRangeInput,
  KernelNotFoundError,
  type Load,
  PayloadTooLargeError,
  ProtocolError,
  QueueFullError,
  type RangeInput,
  RateLimitedError,
  resolveUrlPolicy,
  Slots,
  UrlNotAllowedError,
  type UrlPolicy,
} from 'peercompute'
import { base64Length, fromBase64, toBase64 } from './base64.js'
import { FUNCTION_OPS, type FunctionOp, parseResponse, type WireRequest, type WireResult } from './protocol.js'
import { SUBSTRATE_DEFAULTS } from './substrates.js'

/** Options of a FunctionBackend. */
export interface FunctionBackendInit {
  /** The function's URL (a Lambda Function URL, a Worker's route, any HTTP endpoint running our handler). */
  target: string
  kind: GatewayKind
  /** Tasks forwarded at once (default per kind: SUBSTRATE_DEFAULTS). */
  concurrency?: number
  /** Largest inline input or bytes output of one task, raw bytes (default per kind). */
  payloadBytes?: number
  /** The function's time limit per task, s (default per kind). */
  maxDurationS?: number
  /** Memory of one invocation, MB (default per kind). */
  memoryMb?: number
  /** Sent as `Authorization: Bearer <token>` (the function's PEERCOMPUTE_FUNCTION_TOKEN). */
  token?: string
  /** Which URL sources are passed on to the function (default: public http(s) hosts only). */
  urlPolicy?: UrlPolicy
  /** Cool-down after a 429/5xx or an unreachable function (default 500 ms doubling to 30 s). */
  backoff?: BackoffInit
  /** Tasks that may wait for a place beyond `concurrency` (default 4 × concurrency); more get QueueFullError. */
  maxWaiting?: number
  /** The HTTP client (default the global fetch). */
  fetch?: typeof fetch
  log?: (line: string) => void
}

/** Slack over the base64 payload for the JSON envelope of an answer, bytes. */
const ENVELOPE_BYTES = 4096

/**
 * Forwards tasks to a function over HTTP (the wire format in README.md) and
 * checks every answer: a malformed, oversized or wrong-shaped body is a
 * `FunctionError`, never a result. 429 and 5xx (and an unreachable function)
 * start a cool-down with exponential back-off: meanwhile tasks are refused
 * with `RateLimitedError`, which submitters treat as "busy, place it
 * elsewhere", and the load reports the gateway full. At most `concurrency`
 * requests are in flight.
 */
export class FunctionBackend implements GatewayBackend {
  readonly forwards = true
  private readonly init: FunctionBackendInit
  private readonly target: URL
  private readonly slots: Slots
  private readonly backoff: Backoff
  private readonly urlPolicy: ReturnType<typeof resolveUrlPolicy>
  private readonly limits: { payloadBytes: number; maxDurationS: number; memoryMb: number; concurrency: number }
  private readonly maxWaiting: number
  private readonly inflight = new Set<AbortController>()
  private coolUntil = 0
  private latencyMs = 0
  private stopped = false

  constructor(init: FunctionBackendInit) {
    const d = SUBSTRATE_DEFAULTS[init.kind]
    if (!d) throw new TypeError(`unknown gateway kind ${String(init.kind)}`)
    this.init = init
    this.target = new URL(init.target)
    if (this.target.protocol !== 'http:' && this.target.protocol !== 'https:')
      throw new TypeError('the target must be an http(s) URL')
    this.limits = {
      payloadBytes: positive(init.payloadBytes ?? d.payloadBytes, 'payloadBytes'),
      maxDurationS: positive(init.maxDurationS ?? d.maxDurationS, 'maxDurationS'),
      memoryMb: positive(init.memoryMb ?? d.memoryMb, 'memoryMb'),
      concurrency: positive(init.concurrency ?? d.concurrency, 'concurrency'),
    }
    this.maxWaiting = init.maxWaiting ?? 4 * this.limits.concurrency
    this.slots = new Slots(this.limits.concurrency)
    this.backoff = new Backoff(init.backoff)
    this.urlPolicy = resolveUrlPolicy(init.urlPolicy)
  }

  /** Requests in flight: never more than `concurrency`. */
  get maxWorkers(): number {
    return this.limits.concurrency
  }

  /** True while a 429/5xx cool-down lasts. */
  get coolingDown(): boolean {
    return performance.now() < this.coolUntil
  }

  hasKernel(name: string): boolean {
    return (FUNCTION_OPS as readonly string[]).includes(name)
  }

  kernels(): string[] {
    return [...FUNCTION_OPS]
  }

  info(): GatewayInfo {
    return { kind: this.init.kind, latencyMs: this.latencyMs, ...this.limits }
  }

  load(): Load {
    // cooling down: say "full", so placement looks elsewhere before it even asks
    const queued = this.coolingDown ? Math.max(this.slots.queued, 4 * this.limits.concurrency) : this.slots.queued
    return { running: this.slots.busy, queued }
  }

  /**
   * Measures the function's round trip with a tiny known task (crc32c of
   * "123456789"), the median of `rounds`; rejects if the function does not
   * answer it correctly. The result is advertised as `latencyMs`.
   */
  async probe(signal?: AbortSignal, rounds = 3): Promise<number> {
    const times: number[] = []
    const check = new TextEncoder().encode('123456789')
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now()
      const { output } = await this.run('crc32c', check, { signal })
      if (output !== 0xe3069283) throw new FunctionError('the function answered the probe with a wrong checksum')
      times.push(performance.now() - t0)
    }
    times.sort((a, b) => a - b)
    this.latencyMs = times[Math.floor(times.length / 2)]
    return this.latencyMs
  }

  /** Refuses at the request, before input arrives: beyond the payload limit, or while cooling down. */
  refuse(request: { kernel: string; source: { kind: 'inline' | 'url'; length: number } }): Error | undefined {
    const { kernel, source } = request
    const inline = source.kind === 'inline' || kernel === 'xor' || kernel === 'add'
    if (inline && source.length > this.limits.payloadBytes)
      return new PayloadTooLargeError(
        `${source.length} bytes exceed the function's payload limit of ${this.limits.payloadBytes}`,
      )
    if (this.coolingDown) return new RateLimitedError('the function is cooling down after 429/5xx')
    return undefined
  }

  async run(
    kernel: string,
    input: unknown,
    opts: { params?: unknown; signal?: AbortSignal } = {},
  ): Promise<{ output: unknown; substrate: 'cpu'; validator?: { etag?: string; lastModified?: string } }> {
    if (this.stopped) throw new AbortError('the gateway stopped')
    if (!this.hasKernel(kernel)) throw new KernelNotFoundError(`the function does not run ${kernel}`)
    const op = kernel as FunctionOp
    const req = this.request(op, input, opts.params)
    if (req.range) await this.checkResolved(req.range.url)
    const inputLength = input instanceof Uint8Array ? input.length : (input as RangeInput).length
    if (this.coolingDown) throw new RateLimitedError('the function is cooling down after 429/5xx')
    if (this.slots.busy >= this.limits.concurrency && this.slots.queued >= this.maxWaiting)
      throw new QueueFullError('the gateway has too many tasks waiting')
    const ac = new AbortController()
    const signal = opts.signal ? AbortSignal.any([opts.signal, ac.signal]) : ac.signal
    const release = await this.slots.acquire(signal)
    this.inflight.add(ac)
    try {
      if (this.coolingDown) throw new RateLimitedError('the function is cooling down after 429/5xx')
      const answer = await this.post(req, signal)
      const output = this.resultOf(op, answer.result, inputLength)
      this.backoff.reset()
      return { output, substrate: 'cpu', ...(answer.validator ? { validator: answer.validator } : {}) }
    } finally {
      this.inflight.delete(ac)
      release()
    }
  }

  /** Aborts every request in flight; later tasks are refused. */
  stop(): void {
    this.stopped = true
    for (const ac of this.inflight) ac.abort(new AbortError('the gateway stopped'))
    this.inflight.clear()
  }

  /** The wire request for a task; inline bytes only up to the payload limit, URL sources only as the policy allows. */
  private request(op: FunctionOp, input: unknown, params: unknown): WireRequest {
    const req: WireRequest = { v: 1, op }
    const p = (params ?? {}) as { imm?: unknown; key?: unknown; seed?: unknown }
    const wp: NonNullable<WireRequest['params']> = {}
    if (typeof p.imm === 'number') wp.imm = p.imm
    if (p.key instanceof Uint8Array) wp.key = toBase64(p.key)
    if (typeof p.seed === 'number' || typeof p.seed === 'bigint') wp.seed = BigInt(p.seed).toString()
    if (Object.keys(wp).length) req.params = wp
    if (input instanceof Uint8Array) {
      if (input.length > this.limits.payloadBytes)
        throw new PayloadTooLargeError(`an inline input of ${input.length} bytes exceeds ${this.limits.payloadBytes}`)
      req.data = toBase64(input)
    } else if (isRangeInput(input)) {
      checkUrl(input.url, this.urlPolicy) // UrlNotAllowedError: the function is no scanner of anyone's network
      if ((op === 'xor' || op === 'add') && input.length > this.limits.payloadBytes)
        throw new PayloadTooLargeError(`an output of ${input.length} bytes exceeds ${this.limits.payloadBytes}`)
      req.range = { url: input.url, offset: input.offset, length: input.length }
      if (input.pin?.etag !== undefined) req.range.etag = input.pin.etag
      else if (input.pin?.lastModified !== undefined) req.range.lastModified = input.pin.lastModified
    } else throw new ProtocolError('a forwarded task takes bytes or a URL range')
    return req
  }

  /** Sends one request; the answer is read within its budget and checked. */
  private async post(req: WireRequest, signal: AbortSignal) {
    const timeout = AbortSignal.timeout(this.limits.maxDurationS * 1000 + 5000)
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (this.init.token) headers.authorization = `Bearer ${this.init.token}`
    let res: Response
    try {
      res = await (this.init.fetch ?? fetch)(this.target, {
        method: 'POST',
        headers,
        body: JSON.stringify(req),
        signal: AbortSignal.any([signal, timeout]),
        redirect: 'error',
      })
    } catch (err) {
      if (signal.aborted) throw signal.reason
      this.coolDown(`unreachable (${(err as Error)?.message})`)
      throw new RateLimitedError('the function is unreachable', { cause: err })
    }
    if (res.status === 429 || res.status >= 500) {
      res.body?.cancel().catch(() => {})
      this.coolDown(`answered ${res.status}`)
      throw new RateLimitedError(`the function answered ${res.status}`)
    }
    const max = base64Length(this.limits.payloadBytes) + ENVELOPE_BYTES
    const text = await readText(res, max, signal)
    if (text === undefined)
      throw new FunctionError(`the function's answer exceeds ${max} bytes`, { status: res.status })
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      throw new FunctionError(`the function answered ${res.status} with a body that is not JSON`, {
        status: res.status,
      })
    }
    let answer: ReturnType<typeof parseResponse>
    try {
      answer = parseResponse(json)
    } catch (err) {
      throw new FunctionError(`the function's answer is malformed: ${(err as Error).message}`, { status: res.status })
    }
    if (!answer.ok) throw remoteError(answer.error, res.status)
    if (res.status !== 200) throw new FunctionError(`a result with status ${res.status}`, { status: res.status })
    return answer
  }

  /** A result of the right shape for `op` over `inputLength` bytes, or a FunctionError. */
  private resultOf(op: FunctionOp, r: WireResult, inputLength: number): number | bigint | Uint8Array {
    const bad = (why: string) => new FunctionError(`the function's ${op} result is wrong: ${why}`)
    switch (op) {
      case 'counteq':
        if (r.type !== 'number' || r.value > inputLength) throw bad('not a count within the input')
        return r.value
      case 'crc32c':
        if (r.type !== 'number' || r.value > 0xffffffff) throw bad('not a 32-bit checksum')
        return r.value
      case 'fnv64': {
        if (r.type !== 'bigint') throw bad('not a 64-bit hash')
        const v = BigInt(r.value)
        if (v >= 2n ** 64n) throw bad('not a 64-bit hash')
        return v
      }
      case 'xor':
      case 'add': {
        if (r.type !== 'bytes' || r.length !== inputLength) throw bad('not as many bytes as the input')
        if (r.base64.length !== base64Length(inputLength)) throw bad('its base64 is not that length')
        const bytes = fromBase64(r.base64)
        if (!bytes || bytes.length !== inputLength) throw bad('not base64 of that length')
        return bytes
      }
    }
  }

  /** A named host must resolve only to addresses the policy allows (the function resolves it again: SECURITY.md). */
  private async checkResolved(url: string): Promise<void> {
    const host = new URL(url).hostname
    if (host.startsWith('[') || /^[\d.]+$/.test(host)) return // a literal: checkUrl judged it
    const lookup = checkingLookup(this.urlPolicy)
    await new Promise<void>((resolve, reject) =>
      lookup(host, { all: true }, (err) =>
        err
          ? reject(err.name === 'UrlNotAllowedError' ? err : new DataSourceError(`the host ${host} does not resolve`))
          : resolve(),
      ),
    )
  }

  private coolDown(why: string): void {
    const ms = this.backoff.next()
    this.coolUntil = Math.max(this.coolUntil, performance.now() + ms)
    this.init.log?.(`gateway ${this.init.kind}: the function ${why}; cooling down for ${Math.round(ms)} ms`)
  }
}

/** The function's own error, as the executor reports it (known names keep their class; the rest are FunctionErrors). */
function remoteError(e: { name: string; message: string }, status: number): Error {
  const message = `the function: ${e.message}`
  switch (e.name) {
    case 'DataSourceError':
      return new DataSourceError(message)
    case 'PayloadTooLargeError':
      return new PayloadTooLargeError(message)
    case 'ProtocolError':
      return new ProtocolError(message)
    case 'UrlNotAllowedError':
      return new UrlNotAllowedError(message)
    default:
      return new FunctionError(`${e.name}: ${message}`, { status })
  }
}

/** The body as text if it is at most `max` bytes; undefined when longer. */
async function readText(res: Response, max: number, signal: AbortSignal): Promise<string | undefined> {
  const declared = Number(res.headers.get('content-length') ?? Number.NaN)
  if (declared > max) {
    res.body?.cancel().catch(() => {})
    return undefined
  }
  const reader = res.body?.getReader()
  if (!reader) return ''
  const parts: Uint8Array[] = []
  let got = 0
  try {
    for (;;) {
      if (signal.aborted) throw signal.reason
      const { done, value } = await reader.read()
      if (done) break
      got += value.length
      if (got > max) return undefined
      parts.push(value)
    }
  } finally {
    reader.cancel().catch(() => {})
  }
  const all = new Uint8Array(got)
  let off = 0
  for (const p of parts) {
    all.set(p, off)
    off += p.length
  }
  return new TextDecoder('utf-8', { fatal: false }).decode(all)
}

function positive(n: number, what: string): number {
  if (!(Number.isFinite(n) && n > 0)) throw new TypeError(`${what} must be a positive number, got ${n}`)
  return n
}
