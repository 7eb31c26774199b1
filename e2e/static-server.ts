// A tiny static file server for the e2e tests of the volunteer script tag:
// the repository's files as they are (the built IIFE, the plain example
// pages), not through Vite. `rewrite` may change an HTML page on its way out
// (the tests put their relay's address in the script tag's data-relay).
// serveData is a data host on another origin, for any page that reads ranges.
import { readFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { extname, normalize, resolve, sep } from 'node:path'

const ROOT = resolve(import.meta.dirname, '..')
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
}

/** A running static server. */
export interface StaticServer {
  url: string
  /** Paths asked for so far (without the query). */
  readonly requests: string[]
  close(): Promise<void>
}

/** Serves the repository root on a free loopback port. */
export async function serveStatic(rewrite?: (path: string, html: string) => string): Promise<StaticServer> {
  const requests: string[] = []
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
    requests.push(path)
    let file = normalize(resolve(ROOT, `.${path}`))
    if (file !== ROOT && !file.startsWith(ROOT + sep)) {
      res.writeHead(403).end()
      return
    }
    if (path.endsWith('/')) file = resolve(file, 'index.html')
    readFile(file).then(
      (body) => {
        const type = TYPES[extname(file)] ?? 'application/octet-stream'
        const out = rewrite && type.startsWith('text/html') ? rewrite(path, body.toString('utf8')) : body
        res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(out)
      },
      () => res.writeHead(404).end(),
    )
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

/** Replaces a script tag's `data-relay="…"` and adds `extra` attributes after it. */
export function withRelay(html: string, relay: string, extra = ''): string {
  return html.replace(/data-relay="[^"]*"/, `data-relay="${relay}" ${extra}`)
}

/** Serves `data` with Range support and CORS (a page fetches it from another origin). */
export async function serveData(
  data: Uint8Array,
  /** Decides when a GET is answered (a slow or held host): calls `answer` now or later. */
  gate: (req: IncomingMessage, answer: () => void) => void = (_req, answer) => answer(),
): Promise<{ href: string; origin: string; close(): Promise<void> }> {
  const cors = {
    'access-control-allow-origin': '*',
    'access-control-allow-headers': 'range, if-match, if-unmodified-since',
    'access-control-expose-headers': 'content-range, content-length, etag',
  }
  const server: Server = createServer((req, res) => {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { ...cors, 'access-control-allow-methods': 'GET' }).end()
      return
    }
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')
    gate(req, () => {
      if (!m) {
        res.writeHead(200, { ...cors, 'content-length': data.length }).end(data)
        return
      }
      const a = Number(m[1])
      const b = Math.min(Number(m[2]), data.length - 1)
      res.writeHead(206, { ...cors, 'content-range': `bytes ${a}-${b}/${data.length}`, 'content-length': b - a + 1 })
      res.end(data.subarray(a, b + 1))
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    href: `${origin}/blob.bin`,
    origin,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}
