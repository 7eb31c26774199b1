// Real local function hosts for the gateway tests: the Worker module in workerd
// (miniflare), the Lambda handler through lambda-local behind a Function-URL-shaped
// HTTP server, and a plain HTTP function whose behaviour a test chooses.
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import * as lambdaLocal from 'lambda-local'
import { Miniflare } from 'miniflare'
import { bundleHandlers } from '../../packages/gateway/scripts/bundle.js'

/** A function host on loopback. */
export interface Host {
  url: string
  stop(): Promise<void>
}

/** The handlers bundled into single modules, as they would be deployed; `cleanup` removes them. */
export async function bundled(): Promise<{ worker: string; lambda: string; dir: string; cleanup(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'pc-gateway-'))
  const paths = await bundleHandlers(dir)
  return { ...paths, dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** The Worker module in a real workerd (miniflare), with its token bound as a secret. */
export async function workerHost(scriptPath: string, modulesRoot: string, token: string): Promise<Host> {
  const mf = new Miniflare({
    modules: true,
    scriptPath,
    modulesRoot,
    port: 0,
    host: '127.0.0.1',
    // the data host of the tests is on loopback: a deployed function refuses such URLs
    bindings: { PEERCOMPUTE_FUNCTION_TOKEN: token, PEERCOMPUTE_ALLOW_PRIVATE_URLS: '1' },
  })
  const url = await mf.ready
  return { url: url.toString(), stop: () => mf.dispose() }
}

/** Reads a request body up to `max` bytes; undefined when longer. */
async function body(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  const parts: Buffer[] = []
  let n = 0
  for await (const c of req) {
    n += (c as Buffer).length
    if (n > max) return undefined
    parts.push(c as Buffer)
  }
  return Buffer.concat(parts)
}

/** Serves `handle` on a free loopback port. */
export async function httpHost(handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>): Promise<Host> {
  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(502)
      res.end()
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const port = (server.address() as { port: number }).port
  return {
    url: `http://127.0.0.1:${port}/`,
    stop: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

/**
 * The Lambda handler run by lambda-local for each request to a Function-URL-shaped
 * server: the request becomes a payload-format-2.0 event (bodies that are not
 * text are base64-encoded, as Function URLs do), the handler's result the response.
 */
export async function lambdaHost(modulePath: string, token: string): Promise<Host & { invocations: number }> {
  const mod = await import(pathToFileURL(modulePath).href)
  const host = {
    invocations: 0,
    ...(await httpHost(async (req, res) => {
      const raw = await body(req, 6 * 1024 * 1024)
      if (!raw) {
        res.writeHead(413, { 'content-type': 'application/json' }).end('{"message":"Request Entity Too Large"}')
        return
      }
      const text = /json|text/.test(req.headers['content-type'] ?? '')
      const event = {
        version: '2.0',
        routeKey: '$default',
        rawPath: req.url ?? '/',
        rawQueryString: '',
        headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
        requestContext: { http: { method: req.method, path: req.url, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1' } },
        body: text ? raw.toString('utf8') : raw.toString('base64'),
        isBase64Encoded: !text,
      }
      host.invocations++
      const result = (await lambdaLocal.execute({
        event,
        lambdaFunc: mod,
        lambdaHandler: 'handler',
        environment: { PEERCOMPUTE_FUNCTION_TOKEN: token, PEERCOMPUTE_ALLOW_PRIVATE_URLS: '1' },
        timeoutMs: 30_000,
        verboseLevel: 0,
      })) as { statusCode: number; headers: Record<string, string>; body: string; isBase64Encoded: boolean }
      res.writeHead(result.statusCode, result.headers)
      res.end(result.isBase64Encoded ? Buffer.from(result.body, 'base64') : result.body)
    })),
  }
  return host
}
