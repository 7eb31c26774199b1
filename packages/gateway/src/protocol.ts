// The forwarded-task wire format (PROTOCOL in README.md): one JSON document per
// request and per answer. This file imports nothing, so the function handlers
// carry no more than it and `@peercompute/kernels`.

/** Version of the wire format; a request or answer with another is refused. */
export const WIRE_VERSION = 1

/** The kernels a function runs. */
export const FUNCTION_OPS = ['counteq', 'crc32c', 'fnv64', 'xor', 'add'] as const
/** A kernel a function runs. */
export type FunctionOp = (typeof FUNCTION_OPS)[number]

/** A URL range the function fetches itself; with `etag`/`lastModified`, only from that version of the content. */
export interface WireRange {
  url: string
  offset: number
  length: number
  etag?: string
  lastModified?: string
}

/** A task as the gateway forwards it: exactly one of `data` (base64) and `range`. */
export interface WireRequest {
  v: 1
  op: FunctionOp
  params?: { imm?: number; key?: string; seed?: string }
  data?: string
  range?: WireRange
}

/** A task's result as a function returns it. */
export type WireResult =
  | { type: 'number'; value: number }
  | { type: 'bigint'; value: string }
  | { type: 'bytes'; length: number; base64: string }

/** A function's answer: a result (HTTP 200) or an error (4xx/5xx). */
export type WireResponse =
  | {
      v: 1
      ok: true
      result: WireResult
      execMs: number
      /** The version of the range's content that was read (strong ETag, else Last-Modified). */
      validator?: { etag?: string; lastModified?: string }
    }
  | { v: 1; ok: false; error: { name: string; message: string } }

/** A request or answer that does not follow the format; `status` is what a function answers for it. */
export class WireError extends Error {
  override name = 'WireError'
  readonly status: number
  constructor(message: string, status = 400) {
    super(message)
    this.status = status
  }
}

const MAX_URL = 2048
const MAX_KEY_B64 = 4096
const MAX_VALIDATOR = 256

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function safeInt(v: unknown, what: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max)
    throw new WireError(`${what} must be a whole number from 0 to ${max}`)
  return v
}

function optStr(v: unknown, what: string, max: number): string | undefined {
  if (v === undefined) return undefined
  if (typeof v !== 'string' || v.length > max) throw new WireError(`${what} must be a string of at most ${max}`)
  return v
}

/**
 * Reads and checks a request; `WireError` (status 400) for anything that is not one.
 * Sizes are the caller's to bound (it knows its budget).
 */
export function parseRequest(json: unknown): WireRequest {
  if (!isObj(json)) throw new WireError('the body must be a JSON object')
  if (json.v !== WIRE_VERSION) throw new WireError(`v must be ${WIRE_VERSION}`)
  const op = json.op
  if (typeof op !== 'string' || !(FUNCTION_OPS as readonly string[]).includes(op))
    throw new WireError(`op must be one of ${FUNCTION_OPS.join(', ')}`)
  const out: WireRequest = { v: 1, op: op as FunctionOp }
  if (json.params !== undefined) {
    if (!isObj(json.params)) throw new WireError('params must be an object')
    const p = json.params
    const params: WireRequest['params'] = {}
    if (p.imm !== undefined) params.imm = safeInt(p.imm, 'params.imm', 255)
    if (p.key !== undefined) params.key = optStr(p.key, 'params.key', MAX_KEY_B64)
    if (p.seed !== undefined) {
      const seed = optStr(p.seed, 'params.seed', 20) as string
      if (!/^\d{1,20}$/.test(seed) || BigInt(seed) >= 2n ** 64n)
        throw new WireError('params.seed must be a decimal string below 2^64')
      params.seed = seed
    }
    out.params = params
  }
  const hasData = json.data !== undefined
  const hasRange = json.range !== undefined
  if (hasData === hasRange) throw new WireError('exactly one of data and range is required')
  if (hasData) {
    if (typeof json.data !== 'string') throw new WireError('data must be a base64 string')
    out.data = json.data
  } else {
    const r = json.range
    if (!isObj(r)) throw new WireError('range must be an object')
    const url = optStr(r.url, 'range.url', MAX_URL)
    if (url === undefined) throw new WireError('range.url is required')
    const range: WireRange = {
      url,
      offset: safeInt(r.offset, 'range.offset'),
      length: safeInt(r.length, 'range.length'),
    }
    const etag = optStr(r.etag, 'range.etag', MAX_VALIDATOR)
    const lastModified = optStr(r.lastModified, 'range.lastModified', MAX_VALIDATOR)
    if (etag !== undefined) range.etag = etag
    if (lastModified !== undefined) range.lastModified = lastModified
    out.range = range
  }
  return out
}

/**
 * Reads and checks a function's answer (the gateway's side: the function's
 * bytes are hostile until checked here). `WireError` for anything malformed.
 */
export function parseResponse(json: unknown): WireResponse {
  if (!isObj(json) || json.v !== WIRE_VERSION || typeof json.ok !== 'boolean')
    throw new WireError('not a forwarded-task answer')
  if (!json.ok) {
    const e = json.error
    if (!isObj(e)) throw new WireError('error must be an object')
    const name = optStr(e.name, 'error.name', 64)
    const message = optStr(e.message, 'error.message', 1024)
    if (name === undefined || message === undefined) throw new WireError('error needs a name and a message')
    return { v: 1, ok: false, error: { name, message } }
  }
  const r = json.result
  if (!isObj(r)) throw new WireError('result must be an object')
  let result: WireResult
  if (r.type === 'number') {
    if (typeof r.value !== 'number' || !Number.isSafeInteger(r.value) || r.value < 0)
      throw new WireError('a number result must be a whole number ≥ 0')
    result = { type: 'number', value: r.value }
  } else if (r.type === 'bigint') {
    if (typeof r.value !== 'string' || !/^\d{1,20}$/.test(r.value))
      throw new WireError('a bigint result must be decimal')
    result = { type: 'bigint', value: r.value }
  } else if (r.type === 'bytes') {
    if (typeof r.base64 !== 'string') throw new WireError('a bytes result needs base64')
    result = { type: 'bytes', length: safeInt(r.length, 'result.length'), base64: r.base64 }
  } else throw new WireError('unknown result type')
  const execMs = typeof json.execMs === 'number' && json.execMs >= 0 && json.execMs < 3.6e6 ? json.execMs : 0
  const out: WireResponse = { v: 1, ok: true, result, execMs }
  if (json.validator !== undefined) {
    const v = json.validator
    if (!isObj(v)) throw new WireError('validator must be an object')
    const etag = optStr(v.etag, 'validator.etag', MAX_VALIDATOR)
    const lastModified = optStr(v.lastModified, 'validator.lastModified', MAX_VALIDATOR)
    out.validator = {
      ...(etag !== undefined ? { etag } : {}),
      ...(lastModified !== undefined ? { lastModified } : {}),
    }
  }
  return out
}
