import { DataSourceError } from '../errors.js'

/** A byte range of a URL, as a task's input. */
export interface RangeInput {
  url: string
  offset: number
  length: number
}

/** True if `v` looks like a RangeInput (what the worker runtime fetches itself). */
export function isRangeInput(v: unknown): v is RangeInput {
  if (typeof v !== 'object' || v === null) return false
  const r = v as Record<string, unknown>
  return typeof r.url === 'string' && Number.isSafeInteger(r.offset) && Number.isSafeInteger(r.length)
}

const CONTENT_RANGE = /^bytes (\d+)-(\d+)\/(\d+|\*)$/

/**
 * Fetches `length` bytes at `offset` of `url` with an HTTP Range request into
 * `into` (wasm memory, so the kernel reads them where they land; pass a
 * function returning the view when the memory may grow meanwhile). Anything but
 * exactly those bytes is a `DataSourceError`: an error status, a server that
 * ignores Range (200), a Content-Range naming other bytes, a short or long body.
 */
export async function fetchRange(
  range: RangeInput,
  into: Uint8Array | (() => Uint8Array),
  signal?: AbortSignal,
): Promise<void> {
  const { url, offset, length } = range
  // wasm memory may grow while we wait (another task allocating): take the view afresh for every chunk
  const view = typeof into === 'function' ? into : () => into
  if (view().length !== length) throw new RangeError(`buffer of ${view().length} bytes for a range of ${length}`)
  if (length === 0) return
  const want = `bytes ${offset}-${offset + length - 1}/`
  let res: Response
  try {
    res = await fetch(url, { headers: { range: `bytes=${offset}-${offset + length - 1}` }, signal })
  } catch (err) {
    if (signal?.aborted) throw signal.reason
    throw new DataSourceError(`fetching ${url}: ${(err as Error).message}`, { cause: err })
  }
  const fail = (msg: string): never => {
    res.body?.cancel().catch(() => {})
    throw new DataSourceError(`${url}: ${msg}`)
  }
  if (res.status === 200)
    fail('the server ignored the Range header (200 instead of 206), so the bytes cannot be trusted')
  if (res.status !== 206) fail(`HTTP ${res.status} for bytes ${offset}..${offset + length - 1}`)
  const cr = res.headers.get('content-range') ?? ''
  const m = CONTENT_RANGE.exec(cr)
  if (!m || !cr.startsWith(want)) fail(`Content-Range "${cr}" does not match the range asked for (${want}…)`)
  if (!res.body) fail('no body')
  const reader = (res.body as ReadableStream<Uint8Array>).getReader()
  let got = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    if (got + value.length > length) {
      reader.cancel().catch(() => {})
      throw new DataSourceError(`${url}: the body is longer than the ${length} bytes asked for`)
    }
    view().set(value, got)
    got += value.length
  }
  if (got !== length) throw new DataSourceError(`${url}: short body, ${got} of ${length} bytes`)
}
