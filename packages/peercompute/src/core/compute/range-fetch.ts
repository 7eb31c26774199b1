import { DataSourceError, UrlNotAllowedError } from '../errors.js'
import { checkUrl, type ResolvedUrlPolicy, resolveUrlPolicy } from './url-policy.js'

/**
 * A validator that pins a URL's content for a whole job: a strong ETag
 * (`"abc"`), else a Last-Modified date. Weak ETags (`W/"abc"`) cannot pin a
 * byte range and are never used.
 */
export interface ContentPin {
  etag?: string
  lastModified?: string
}

/** A byte range of a URL, as a task's input; with `pin`, the bytes must come from that version of the content. */
export interface RangeInput {
  url: string
  offset: number
  length: number
  pin?: ContentPin
}

/** True if `v` looks like a RangeInput (what the worker runtime fetches itself). */
export function isRangeInput(v: unknown): v is RangeInput {
  if (typeof v !== 'object' || v === null) return false
  const r = v as Record<string, unknown>
  return typeof r.url === 'string' && Number.isSafeInteger(r.offset) && Number.isSafeInteger(r.length)
}

/** A response as the range fetcher needs it, whatever the platform's HTTP client. */
export interface RangeResponse {
  status: number
  /** A response header (lower-case name), or undefined. */
  header(name: string): string | undefined
  /** The body, chunk by chunk. */
  body: AsyncIterable<Uint8Array>
  /** Drops the rest of the body and the connection's claim on it. */
  cancel(): void
}

/** A request as the range fetcher makes it. */
export interface RangeRequest {
  /** Already checked against `policy` (scheme, userinfo, origin, IP-literal host). */
  url: URL
  headers: Record<string, string>
  policy: ResolvedUrlPolicy
  signal?: AbortSignal
}

/**
 * The platform's HTTP client for range requests: never sends credentials or
 * cookies, never follows a redirect, and (where it can resolve names) connects
 * only to addresses the policy allows, raising `UrlNotAllowedError` before it
 * connects otherwise.
 */
export type RangeTransport = (req: RangeRequest) => Promise<RangeResponse>

/** Options of `fetchRange`. */
export interface FetchRangeOptions {
  /** The HTTP client: `nodeRangeTransport` in Node, `fetchRangeTransport` in browsers. */
  transport: RangeTransport
  /** Which URLs may be fetched (default: public http(s) hosts only). */
  policy?: ResolvedUrlPolicy
  signal?: AbortSignal
}

const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+|\*)$/
/** Strong entity tags only, printable ASCII (a weak one, W/"…", cannot pin a byte range). */
const STRONG_ETAG = /^"[\x21\x23-\x7e]{0,254}"$/
const HTTP_DATE = /^[\x20-\x7e]{1,64}$/

/** True if `v` is a strong ETag this library pins by. */
export function isStrongEtag(v: unknown): v is string {
  return typeof v === 'string' && STRONG_ETAG.test(v)
}

/** True if `v` is a Last-Modified value this library pins by (an HTTP date). */
export function isHttpDate(v: unknown): v is string {
  return typeof v === 'string' && HTTP_DATE.test(v) && !Number.isNaN(Date.parse(v))
}

/**
 * Fetches `length` bytes at `offset` of `url` with an HTTP Range request into
 * `into` (wasm memory, so the kernel reads them where they land; pass a
 * function returning the view when the memory may grow meanwhile). The URL is
 * checked against the policy first: a refusal is a `UrlNotAllowedError`, and
 * no connection is opened. Anything but exactly those bytes is a
 * `DataSourceError`: an error status, a redirect, a server that ignores Range
 * (200), a Content-Range naming other bytes, a short or long body, or content
 * that no longer matches `range.pin` (412, or another validator).
 *
 * Resolves with the validator the response carried (a strong ETag, else
 * Last-Modified), to pin the rest of a job's ranges to this content.
 */
export async function fetchRange(
  range: RangeInput,
  into: Uint8Array | (() => Uint8Array),
  opts: FetchRangeOptions,
): Promise<ContentPin | undefined> {
  const { offset, length, pin } = range
  const policy = opts.policy ?? resolveUrlPolicy(undefined)
  const url = checkUrl(range.url, policy)
  const where = url.href
  // wasm memory may grow while we wait (another task allocating): take the view afresh for every chunk
  const view = typeof into === 'function' ? into : () => into
  if (view().length !== length) throw new RangeError(`buffer of ${view().length} bytes for a range of ${length}`)
  if (length === 0) return undefined
  const headers: Record<string, string> = { range: `bytes=${offset}-${offset + length - 1}` }
  if (pin?.etag !== undefined && isStrongEtag(pin.etag)) headers['if-match'] = pin.etag
  else if (pin?.lastModified !== undefined && isHttpDate(pin.lastModified))
    headers['if-unmodified-since'] = pin.lastModified
  else if (pin && (pin.etag !== undefined || pin.lastModified !== undefined))
    throw new DataSourceError(`${where}: the content pin is neither a strong ETag nor an HTTP date`)
  let res: RangeResponse
  try {
    res = await opts.transport({ url, headers, policy, signal: opts.signal })
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason
    if (err instanceof UrlNotAllowedError) throw err
    // the code (ECONNREFUSED, ENOTFOUND), not the message: that names addresses of this node's network
    const code = (err as { code?: unknown })?.code
    const why = typeof code === 'string' && /^[A-Z_]{1,32}$/.test(code) ? code : 'network error'
    throw new DataSourceError(`fetching ${where} failed: ${why}`, { cause: err })
  }
  const fail = (msg: string): never => {
    res.cancel()
    throw new DataSourceError(`${where}: ${msg}`)
  }
  if (res.status === 412) fail('the content changed since the job began (412 Precondition Failed)')
  if (res.status === 200)
    fail('the server ignored the Range header (200 instead of 206), so the bytes cannot be trusted')
  if (res.status >= 300 && res.status < 400) fail(`HTTP ${res.status}: redirects are not followed`)
  if (res.status !== 206) fail(`HTTP ${res.status} for bytes ${offset}..${offset + length - 1}`)
  const want = `bytes ${offset}-${offset + length - 1}/`
  const cr = res.header('content-range') ?? ''
  if (!CONTENT_RANGE.exec(cr) || !cr.startsWith(want))
    fail(`Content-Range "${cr.slice(0, 100)}" does not match the range asked for (${want}…)`)
  const seen = validatorOf(res)
  if (pin?.etag !== undefined && seen?.etag !== pin.etag)
    fail('the content changed since the job began (its ETag is not the pinned one)')
  if (pin?.etag === undefined && pin?.lastModified !== undefined && lastModifiedOf(res) !== pin.lastModified)
    fail('the content changed since the job began (its Last-Modified is not the pinned one)')
  let got = 0
  try {
    for await (const chunk of res.body) {
      if (got + chunk.length > length) fail(`the body is longer than the ${length} bytes asked for`)
      view().set(chunk, got)
      got += chunk.length
    }
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason
    if (err instanceof DataSourceError) throw err
    res.cancel()
    throw new DataSourceError(`${where}: the body broke off after ${got} bytes`, { cause: err })
  }
  if (got !== length) throw new DataSourceError(`${where}: short body, ${got} of ${length} bytes`)
  return seen
}

function lastModifiedOf(res: RangeResponse): string | undefined {
  const lm = res.header('last-modified')
  return isHttpDate(lm) ? lm : undefined
}

/** The response's validator: its strong ETag, else its Last-Modified; undefined if it has neither. */
function validatorOf(res: RangeResponse): ContentPin | undefined {
  const etag = res.header('etag')
  if (isStrongEtag(etag)) return { etag }
  const lastModified = lastModifiedOf(res)
  return lastModified === undefined ? undefined : { lastModified }
}
