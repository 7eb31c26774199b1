import type { RangeRequest, RangeResponse, RangeTransport } from './range-fetch.js'

/**
 * The range transport on `fetch`, for browsers and Web Workers: no cookies or
 * credentials (`credentials: 'omit'`), no redirects (`redirect: 'error'`), no
 * Referer, CORS only, no HTTP cache. A page cannot resolve names, so only what
 * `checkUrl` sees in the URL itself (IP literals, local names) is checked: a
 * public name that resolves to a private address is the browser's to stop
 * (Chrome's Private Network Access). In Node use `nodeRangeTransport`, which
 * checks every resolved address.
 */
export const fetchRangeTransport: RangeTransport = async (req: RangeRequest): Promise<RangeResponse> => {
  const res = await fetch(req.url.href, {
    headers: req.headers,
    signal: req.signal,
    credentials: 'omit',
    redirect: 'error',
    referrerPolicy: 'no-referrer',
    mode: 'cors',
    cache: 'no-store',
  })
  const reader = res.body?.getReader()
  return {
    status: res.status,
    header: (name) => res.headers.get(name) ?? undefined,
    body: chunks(reader),
    cancel: () => {
      reader?.cancel().catch(() => {})
    },
  }
}

async function* chunks(reader: ReadableStreamDefaultReader<Uint8Array> | undefined): AsyncGenerator<Uint8Array> {
  if (!reader) return
  for (;;) {
    const { done, value } = await reader.read()
    if (done) return
    yield value
  }
}
