// What every function handler does with a forwarded task, whatever its host:
// bound the body, check the request, get the input (inline, or a URL range it
// fetches itself), run the kernel, answer. Imports only @peercompute/kernels.
import { add, counteq, crc32c, FNV64_OFFSET, fnv64, xor } from '@peercompute/kernels'
import { base64Length, fromBase64, toBase64 } from '../base64.js'
import { parseRequest, WireError, type WireRange, type WireRequest, type WireResponse } from '../protocol.js'

/** What a handler accepts; each bounds what one request can make the function hold. */
export interface HandlerLimits {
  /** Largest request body, bytes (the host's own payload limit, less room for the envelope). */
  maxBodyBytes: number
  /** Largest input of one task, inline or fetched, bytes. */
  maxInputBytes: number
  /** Largest bytes output (xor, add) of one task, bytes: it goes back base64-encoded in the answer. */
  maxOutputBytes: number
  /** How long a range fetch may take, ms. */
  fetchTimeoutMs: number
}

/**
 * AWS Lambda: 6 MB synchronous request and response payloads, so inline input
 * and bytes output are ~4.4 MB raw once base64-encoded; a reduce (counteq,
 * crc32c, fnv64) over a URL range may read up to 256 MiB.
 */
export const LAMBDA_LIMITS: HandlerLimits = {
  maxBodyBytes: 6_000_000,
  maxInputBytes: 256 * 2 ** 20,
  maxOutputBytes: 4_400_000,
  fetchTimeoutMs: 60_000,
}

/**
 * Cloudflare Workers: 128 MB of memory per isolate, shared by the body, its
 * decoded bytes and the answer, so everything stays well under it.
 */
export const WORKER_LIMITS: HandlerLimits = {
  maxBodyBytes: 24 * 2 ** 20,
  maxInputBytes: 32 * 2 ** 20,
  maxOutputBytes: 12 * 2 ** 20,
  fetchTimeoutMs: 25_000,
}

/** A handler's answer before its host wraps it: an HTTP status and a JSON body. */
export interface HandlerAnswer {
  status: number
  body: string
}

/** What the handler may use from its host. */
export interface HandlerEnv {
  limits: HandlerLimits
  /** The shared secret callers must send as `Authorization: Bearer …`; unset: anyone may call. */
  token?: string
  /** Ranges on loopback, private and link-local literal addresses and single-label hosts may be read (tests only). */
  allowPrivateUrls?: boolean
  fetch?: typeof fetch
}

/**
 * True if `url`'s host may be fetched by a function: not `localhost` or a
 * single-label name, not an IPv6 literal, not an IPv4 literal outside public
 * unicast (loopback, private, link-local such as the metadata address, CGNAT,
 * this-network, multicast, reserved). The URL parser has already turned every
 * spelling of an IPv4 address into dotted decimal. Names are not resolved (a
 * Worker cannot): the gateway checks what they resolve to before it forwards.
 */
export function publicHost(url: URL): boolean {
  const host = url.hostname.toLowerCase()
  if (host.startsWith('[')) return false
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host)
  if (m) {
    const [a, b] = [Number(m[1]), Number(m[2])]
    if (a === 0 || a === 10 || a === 127 || a >= 224) return false
    if (a === 169 && b === 254) return false
    if (a === 172 && b >= 16 && b <= 31) return false
    if (a === 192 && b === 168) return false
    if (a === 100 && b >= 64 && b <= 127) return false
    return true
  }
  return host.includes('.') && !host.endsWith('.localhost') && !host.endsWith('.local') && !host.endsWith('.internal')
}

/** A failure the handler reports by name. */
class TaskFailure extends Error {
  readonly status: number
  constructor(name: string, message: string, status: number) {
    super(message)
    this.name = name
    this.status = status
  }
}

/** The answer for an error. */
export function errorAnswer(status: number, name: string, message: string): HandlerAnswer {
  const body: WireResponse = { v: 1, ok: false, error: { name, message } }
  return { status, body: JSON.stringify(body) }
}

/** True if `authorization` carries `token` (or no token is configured); compared in constant time. */
export function authorized(env: HandlerEnv, authorization: string | null | undefined): boolean {
  if (!env.token) return true
  const want = `Bearer ${env.token}`
  const got = authorization ?? ''
  if (got.length !== want.length) return false
  let diff = 0
  for (let i = 0; i < want.length; i++) diff |= want.charCodeAt(i) ^ got.charCodeAt(i)
  return diff === 0
}

/** Runs the forwarded task in `body` (already bounded by the host to `maxBodyBytes`) and answers it. */
export async function handleTask(body: string, env: HandlerEnv): Promise<HandlerAnswer> {
  const t0 = performance.now()
  const { limits } = env
  try {
    if (body.length > limits.maxBodyBytes)
      throw new TaskFailure('PayloadTooLargeError', `a body over ${limits.maxBodyBytes} bytes`, 413)
    let json: unknown
    try {
      json = JSON.parse(body)
    } catch {
      throw new TaskFailure('ProtocolError', 'the body is not JSON', 400)
    }
    const req = parseRequest(json)
    const { input, validator } = await inputOf(req, env)
    const result = runKernel(req, input, limits)
    const answer: WireResponse = { v: 1, ok: true, result, execMs: performance.now() - t0 }
    if (validator) answer.validator = validator
    return { status: 200, body: JSON.stringify(answer) }
  } catch (err) {
    if (err instanceof WireError) return errorAnswer(err.status, 'ProtocolError', err.message)
    if (err instanceof TaskFailure) return errorAnswer(err.status, err.name, err.message)
    // a kernel's argument check (TypeError, RangeError): the request asked for something it cannot do
    const e = err as Error
    return errorAnswer(400, 'KernelError', `${e?.name ?? 'Error'}: ${String(e?.message ?? err).slice(0, 200)}`)
  }
}

/** The task's input: decoded inline bytes, or the range read from its URL. */
async function inputOf(
  req: WireRequest,
  env: HandlerEnv,
): Promise<{ input: Uint8Array; validator?: { etag?: string; lastModified?: string } }> {
  const max = env.limits.maxInputBytes
  if (req.data !== undefined) {
    if (req.data.length > base64Length(max))
      throw new TaskFailure('PayloadTooLargeError', `inline input over ${max} bytes`, 413)
    const input = fromBase64(req.data)
    if (!input) throw new TaskFailure('ProtocolError', 'data is not base64', 400)
    return { input }
  }
  const r = req.range as WireRange
  if (r.length > max) throw new TaskFailure('PayloadTooLargeError', `a range over ${max} bytes`, 413)
  if ((req.op === 'xor' || req.op === 'add') && r.length > env.limits.maxOutputBytes)
    throw new TaskFailure('PayloadTooLargeError', `an output over ${env.limits.maxOutputBytes} bytes`, 413)
  return fetchRange(r, env)
}

/** Reads `r` with an HTTP Range request, at most `r.length` bytes, pinned to its validator when given. */
async function fetchRange(r: WireRange, env: HandlerEnv) {
  let url: URL
  try {
    url = new URL(r.url)
  } catch {
    throw new TaskFailure('ProtocolError', 'range.url is not an absolute URL', 400)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new TaskFailure('ProtocolError', 'range.url must be http: or https:', 400)
  if (url.username || url.password) throw new TaskFailure('ProtocolError', 'range.url carries credentials', 400)
  if (!env.allowPrivateUrls && !publicHost(url))
    throw new TaskFailure('UrlNotAllowedError', 'range.url is not a public host', 403)
  if (r.length === 0) return { input: new Uint8Array(0) }
  const headers: Record<string, string> = { range: `bytes=${r.offset}-${r.offset + r.length - 1}` }
  if (r.etag !== undefined) headers['if-match'] = r.etag
  else if (r.lastModified !== undefined) headers['if-unmodified-since'] = r.lastModified
  const doFetch = env.fetch ?? fetch
  let res: Response
  try {
    // 'manual': a redirect is an answer like any other non-206 (workerd has no 'error'); never followed
    res = await doFetch(url, { headers, signal: AbortSignal.timeout(env.limits.fetchTimeoutMs), redirect: 'manual' })
  } catch {
    throw new TaskFailure('DataSourceError', 'the range could not be fetched', 422)
  }
  if (res.status === 412) {
    await res.body?.cancel()
    throw new TaskFailure('DataSourceError', 'the content changed (precondition failed)', 422)
  }
  // 206, or 200 for a range that is the whole content from its start
  if (res.status !== 206 && !(res.status === 200 && r.offset === 0)) {
    await res.body?.cancel()
    throw new TaskFailure('DataSourceError', `the data host answered ${res.status}`, 422)
  }
  const input = await readAtMost(res, r.length)
  if (input.length !== r.length) throw new TaskFailure('DataSourceError', 'the data host sent a short range', 422)
  const etag = res.headers.get('etag') ?? undefined
  const lastModified = res.headers.get('last-modified') ?? undefined
  const validator =
    etag !== undefined && !etag.startsWith('W/') ? { etag } : lastModified !== undefined ? { lastModified } : undefined
  return { input, validator }
}

/** The first `n` bytes of a response's body (a longer body is cut: only the range's bytes are wanted). */
async function readAtMost(res: Response, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n)
  let got = 0
  const reader = res.body?.getReader()
  if (!reader) return out.subarray(0, 0)
  try {
    while (got < n) {
      const { done, value } = await reader.read()
      if (done) break
      const take = Math.min(value.length, n - got)
      out.set(value.subarray(0, take), got)
      got += take
    }
  } finally {
    reader.cancel().catch(() => {})
  }
  return out.subarray(0, got)
}

/** Runs the request's kernel over `input`. */
function runKernel(req: WireRequest, input: Uint8Array, limits: HandlerLimits) {
  const p = req.params ?? {}
  const imm = p.imm ?? 0
  switch (req.op) {
    case 'counteq':
      return { type: 'number' as const, value: counteq(input, imm) }
    case 'crc32c': {
      const seed = p.seed === undefined ? 0 : Number(p.seed)
      if (seed > 0xffffffff) throw new TaskFailure('ProtocolError', 'a crc32c seed is 32 bits', 400)
      return { type: 'number' as const, value: crc32c(input, seed) }
    }
    case 'fnv64':
      return {
        type: 'bigint' as const,
        value: fnv64(input, p.seed === undefined ? FNV64_OFFSET : BigInt(p.seed)).toString(),
      }
    case 'xor':
    case 'add': {
      if (input.length > limits.maxOutputBytes)
        throw new TaskFailure('PayloadTooLargeError', `an output over ${limits.maxOutputBytes} bytes`, 413)
      let out: Uint8Array
      if (req.op === 'add') out = add(input, imm, input)
      else {
        const key = p.key === undefined ? undefined : fromBase64(p.key)
        if (p.key !== undefined && (!key || key.length === 0))
          throw new TaskFailure('ProtocolError', 'params.key is not base64', 400)
        out = xor(input, key ?? imm, input)
      }
      return { type: 'bytes' as const, length: out.length, base64: toBase64(out) }
    }
  }
}
