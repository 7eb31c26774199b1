/**
 * @packageDocumentation
 * The Cloudflare Worker module for forwarded tasks: `export default { fetch }`.
 * Bind a secret `PEERCOMPUTE_FUNCTION_TOKEN` to require
 * `Authorization: Bearer <token>` (the gateway's `--function-token`).
 * Imports only `@peercompute/kernels`.
 */
import { authorized, errorAnswer, type HandlerAnswer, handleTask, WORKER_LIMITS } from './run.js'

/** The Worker's bindings it reads. */
export interface WorkerEnv {
  PEERCOMPUTE_FUNCTION_TOKEN?: string
  /** '1': ranges on loopback and private literal addresses may be read (tests only). */
  PEERCOMPUTE_ALLOW_PRIVATE_URLS?: string
}

function respond(a: HandlerAnswer): Response {
  return new Response(a.body, { status: a.status, headers: { 'content-type': 'application/json' } })
}

/** Reads at most `max` bytes of the body as text; undefined when it is longer. */
async function boundedText(request: Request, max: number): Promise<string | undefined> {
  const reader = request.body?.getReader()
  if (!reader) return ''
  const parts: Uint8Array[] = []
  let got = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    got += value.length
    if (got > max) {
      reader.cancel().catch(() => {})
      return undefined
    }
    parts.push(value)
  }
  const all = new Uint8Array(got)
  let off = 0
  for (const p of parts) {
    all.set(p, off)
    off += p.length
  }
  return new TextDecoder().decode(all)
}

/** The Worker: POST a forwarded task, get its result. */
export default {
  async fetch(request: Request, env: WorkerEnv = {}): Promise<Response> {
    const limits = WORKER_LIMITS
    const token = env.PEERCOMPUTE_FUNCTION_TOKEN || undefined
    if (request.method !== 'POST') return respond(errorAnswer(405, 'ProtocolError', 'only POST runs a task'))
    if (!authorized({ limits, token }, request.headers.get('authorization')))
      return respond(errorAnswer(401, 'ProtocolError', 'unauthorized'))
    const declared = Number(request.headers.get('content-length') ?? 0)
    if (declared > limits.maxBodyBytes)
      return respond(errorAnswer(413, 'PayloadTooLargeError', `a body over ${limits.maxBodyBytes} bytes`))
    const body = await boundedText(request, limits.maxBodyBytes)
    if (body === undefined)
      return respond(errorAnswer(413, 'PayloadTooLargeError', `a body over ${limits.maxBodyBytes} bytes`))
    return respond(
      await handleTask(body, { limits, token, allowPrivateUrls: env.PEERCOMPUTE_ALLOW_PRIVATE_URLS === '1' }),
    )
  },
}
