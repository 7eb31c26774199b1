import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { fetchRange } from '../../core/compute/range-fetch.js'
import { resolveUrlPolicy } from '../../core/compute/url-policy.js'
import { DataSourceError, UrlNotAllowedError } from '../../core/errors.js'
import { checkingLookup, nodeRangeTransport } from './node-range-transport.js'

const DEFAULT = resolveUrlPolicy(undefined)
const PRIVATE = resolveUrlPolicy({ allowPrivate: true })
const DATA = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7) & 0xff)

const servers: Server[] = []
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections()
    await new Promise((r) => s.close(r))
  }
})

/** A loopback range server that counts requests and records their headers; `etag()` may change between requests. */
async function rangeServer(
  opts: { etag?: () => string | undefined; lastModified?: string; honourIfMatch?: boolean; status?: number } = {},
) {
  const seen: IncomingHttpHeaders[] = []
  const server = createServer((req, res) => {
    seen.push(req.headers)
    const etag = opts.etag?.()
    const validators: Record<string, string> = {}
    if (etag) validators.etag = etag
    if (opts.lastModified) validators['last-modified'] = opts.lastModified
    if (opts.status) return void res.writeHead(opts.status, validators).end()
    if (opts.honourIfMatch !== false && req.headers['if-match'] && req.headers['if-match'] !== etag)
      return void res.writeHead(412).end()
    const [, a, b] = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '') ?? []
    const from = Number(a)
    const to = Math.min(Number(b), DATA.length - 1)
    res.writeHead(206, {
      ...validators,
      'content-range': `bytes ${from}-${to}/${DATA.length}`,
      'content-length': to - from + 1,
    })
    res.end(DATA.subarray(from, to + 1))
  })
  servers.push(server)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const port = (server.address() as AddressInfo).port
  return { seen, port, url: `http://127.0.0.1:${port}/blob.bin` }
}

const get = (url: string, policy = PRIVATE, pin?: { etag?: string; lastModified?: string }) => {
  const into = new Uint8Array(100)
  return fetchRange({ url, offset: 10, length: 100, pin }, into, { transport: nodeRangeTransport, policy }).then(
    (validator) => ({ into, validator }),
  )
}

describe('fetchRange over node:http under a URL policy', () => {
  it('refuses a loopback URL by default without a single request; allowPrivate fetches it', async () => {
    const s = await rangeServer()
    await expect(get(s.url, DEFAULT)).rejects.toBeInstanceOf(UrlNotAllowedError)
    await expect(get(s.url.replace('127.0.0.1', 'localhost'), DEFAULT)).rejects.toBeInstanceOf(UrlNotAllowedError)
    expect(s.seen).toHaveLength(0)
    const { into } = await get(s.url)
    expect(into).toEqual(DATA.subarray(10, 110))
    expect(s.seen).toHaveLength(1)
    expect(s.seen[0].cookie).toBeUndefined()
    expect(s.seen[0].authorization).toBeUndefined()
  })

  it('checks every address a name resolves to before connecting (no rebinding window)', async () => {
    const s = await rangeServer()
    // past checkUrl (as a public-looking name would be), the lookup itself refuses: nothing connects
    const url = new URL(s.url.replace('127.0.0.1', 'localhost'))
    await expect(nodeRangeTransport({ url, headers: {}, policy: DEFAULT })).rejects.toBeInstanceOf(UrlNotAllowedError)
    expect(s.seen).toHaveLength(0)
    const lookup = checkingLookup(DEFAULT)
    const err = await new Promise<unknown>((resolve) => lookup('localhost', { all: true }, (e) => resolve(e)))
    expect(err).toBeInstanceOf(UrlNotAllowedError)
    const ok = await new Promise<unknown>((resolve) =>
      checkingLookup(PRIVATE)('localhost', { all: true }, (e, a) => resolve(e ?? a)),
    )
    expect(Array.isArray(ok) && ok.length > 0).toBe(true)
    const res = await nodeRangeTransport({ url, headers: { range: 'bytes=0-9' }, policy: PRIVATE })
    expect(res.status).toBe(206)
    res.cancel()
  })

  it('does not follow a redirect: the second server is never contacted', async () => {
    const target = await rangeServer()
    const hop = createServer((_req, res) => res.writeHead(302, { location: target.url }).end())
    servers.push(hop)
    await new Promise<void>((r) => hop.listen(0, '127.0.0.1', () => r()))
    const url = `http://127.0.0.1:${(hop.address() as AddressInfo).port}/blob.bin`
    await expect(get(url)).rejects.toMatchObject({ name: 'DataSourceError', message: expect.stringMatching(/302/) })
    expect(target.seen).toHaveLength(0)
  })

  it('a network failure says what happened, not where', async () => {
    const s = await rangeServer()
    for (const x of servers.splice(0)) await new Promise((r) => x.close(r))
    const err = await get(s.url).catch((e: Error) => e)
    expect(err).toBeInstanceOf(DataSourceError)
    expect((err as Error).message).toMatch(/ECONNREFUSED/)
    // Node's own text ("connect ECONNREFUSED 127.0.0.1:port") names the address it tried: it stays local
    expect((err as Error).message).not.toMatch(/connect ECONNREFUSED/)
  })
})

describe('content pinning', () => {
  it('reports a strong ETag, and sends it back as If-Match', async () => {
    const s = await rangeServer({ etag: () => '"v1"', lastModified: 'Wed, 21 Oct 2015 07:28:00 GMT' })
    const first = await get(s.url)
    expect(first.validator).toEqual({ etag: '"v1"' })
    const second = await get(s.url, PRIVATE, first.validator)
    expect(second.into).toEqual(DATA.subarray(10, 110))
    expect(s.seen[1]['if-match']).toBe('"v1"')
  })

  it('a file whose ETag changes between two fetches is a DataSourceError (412 from the server)', async () => {
    let version = 1
    const s = await rangeServer({ etag: () => `"v${version}"` })
    const { validator } = await get(s.url)
    version = 2
    await expect(get(s.url, PRIVATE, validator)).rejects.toMatchObject({
      name: 'DataSourceError',
      message: expect.stringMatching(/changed/),
    })
  })

  it('a server that ignores If-Match but sends the new ETag is caught too', async () => {
    let version = 1
    const s = await rangeServer({ etag: () => `"v${version}"`, honourIfMatch: false })
    const { validator } = await get(s.url)
    version = 2
    await expect(get(s.url, PRIVATE, validator)).rejects.toMatchObject({
      name: 'DataSourceError',
      message: expect.stringMatching(/ETag/),
    })
    // a pinned range whose response has no validator at all cannot be confirmed either
    const bare = await rangeServer()
    await expect(get(bare.url, PRIVATE, validator)).rejects.toBeInstanceOf(DataSourceError)
  })

  it('a weak ETag cannot pin a range: Last-Modified does, as If-Unmodified-Since', async () => {
    let lastModified = 'Wed, 21 Oct 2015 07:28:00 GMT'
    const weakOnly = await rangeServer({ etag: () => 'W/"weak"' })
    const lm = await rangeServer({ etag: () => 'W/"weak"', lastModified })
    const first = await get(lm.url)
    expect(first.validator).toEqual({ lastModified })
    await get(lm.url, PRIVATE, first.validator)
    expect(lm.seen[1]['if-unmodified-since']).toBe(lastModified)
    expect(lm.seen[1]['if-match']).toBeUndefined()
    lastModified = 'Thu, 22 Oct 2015 07:28:00 GMT'
    const changed = await rangeServer({ lastModified })
    await expect(get(changed.url, PRIVATE, first.validator)).rejects.toMatchObject({
      name: 'DataSourceError',
      message: expect.stringMatching(/Last-Modified/),
    })
    expect((await get(weakOnly.url)).validator).toBeUndefined()
  })

  it('a 412 is a DataSourceError; a malformed pin is refused before any request', async () => {
    const s = await rangeServer({ status: 412 })
    await expect(get(s.url, PRIVATE, { etag: '"x"' })).rejects.toMatchObject({ name: 'DataSourceError' })
    const t = await rangeServer()
    await expect(get(t.url, PRIVATE, { etag: '"a"\r\nx-evil: 1' })).rejects.toBeInstanceOf(DataSourceError)
    await expect(get(t.url, PRIVATE, { lastModified: 'yesterday' })).rejects.toBeInstanceOf(DataSourceError)
    expect(t.seen).toHaveLength(0)
  })
})
