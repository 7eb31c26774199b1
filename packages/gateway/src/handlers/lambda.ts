/**
 * @packageDocumentation
 * The AWS Lambda handler for forwarded tasks: a Function URL (or API Gateway
 * HTTP API, payload format 2.0) event in, its result out. Set
 * `PEERCOMPUTE_FUNCTION_TOKEN` in the function's environment to require
 * `Authorization: Bearer <token>` (the gateway's `--function-token`).
 * Imports only `@peercompute/kernels`.
 */
import { fromBase64 } from '../base64.js'
import { authorized, errorAnswer, type HandlerAnswer, handleTask, LAMBDA_LIMITS } from './run.js'

/** The parts of a Function URL / API Gateway v2 event the handler reads. */
export interface FunctionUrlEvent {
  version?: string
  body?: string | null
  isBase64Encoded?: boolean
  headers?: Record<string, string | undefined>
  requestContext?: { http?: { method?: string } }
}

/** What the handler returns: a Function URL response. */
export interface FunctionUrlResult {
  statusCode: number
  headers: Record<string, string>
  body: string
  isBase64Encoded: false
}

const env = () => (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {}

/** Runs the forwarded task in a Function URL event (POST, JSON body, plain or base64). */
export async function handler(event: FunctionUrlEvent): Promise<FunctionUrlResult> {
  return wrap(await answer(event))
}

async function answer(event: FunctionUrlEvent): Promise<HandlerAnswer> {
  const limits = LAMBDA_LIMITS
  const token = env().PEERCOMPUTE_FUNCTION_TOKEN || undefined
  if (typeof event !== 'object' || event === null) return errorAnswer(400, 'ProtocolError', 'not an event')
  const method = event.requestContext?.http?.method ?? 'POST'
  if (method !== 'POST') return errorAnswer(405, 'ProtocolError', 'only POST runs a task')
  if (!authorized({ limits, token }, event.headers?.authorization))
    return errorAnswer(401, 'ProtocolError', 'unauthorized')
  const raw = typeof event.body === 'string' ? event.body : ''
  // bound before decoding: base64 takes 4 bytes for 3
  if (raw.length > (event.isBase64Encoded ? Math.ceil(limits.maxBodyBytes / 3) * 4 : limits.maxBodyBytes))
    return errorAnswer(413, 'PayloadTooLargeError', `a body over ${limits.maxBodyBytes} bytes`)
  let body = raw
  if (event.isBase64Encoded) {
    const bytes = fromBase64(raw)
    if (!bytes) return errorAnswer(400, 'ProtocolError', 'the body is not base64')
    body = new TextDecoder().decode(bytes)
  }
  return handleTask(body, { limits, token, allowPrivateUrls: env().PEERCOMPUTE_ALLOW_PRIVATE_URLS === '1' })
}

function wrap(a: HandlerAnswer): FunctionUrlResult {
  return { statusCode: a.status, headers: { 'content-type': 'application/json' }, body: a.body, isBase64Encoded: false }
}
