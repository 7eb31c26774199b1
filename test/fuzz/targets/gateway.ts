// Fuzz targets of the gateway's wire format (packages/gateway): what reaches a
// function handler, and what a function answers the gateway.
import { FUNCTION_OPS, handleTask, parseResponse, WireError, WORKER_LIMITS } from '@peercompute/gateway'
import fc from 'fast-check'
import { ensure, target, typedOnly } from '../harness.ts'
import { editedJson, hostileValue } from '../mutate.ts'
import { record } from '../strings.ts'

const b64 = fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b).toString('base64'))

/** Valid requests: inline or a range, with any params in bounds. */
const request = fc.oneof(
  record(
    {
      v: fc.constant(1),
      op: fc.constantFrom(...FUNCTION_OPS),
      params: record(
        { imm: fc.nat(255), key: b64.filter((s) => s.length > 0), seed: fc.nat().map(String) },
        { requiredKeys: [] },
      ),
      data: b64,
    },
    { requiredKeys: ['v', 'op', 'data'] },
  ),
  record({
    v: fc.constant(1),
    op: fc.constantFrom(...FUNCTION_OPS),
    range: record({
      url: fc.constantFrom('https://data.example/x', 'http://127.0.0.1/x', 'https://h.example/%00', 'ftp://a/'),
      offset: fc.nat(),
      length: fc.nat(1 << 12),
    }),
  }),
)

/** A data host that always sends 64 bytes with 206: ranges of another length come out short or cut. */
const stubFetch = (async () => new Response(new Uint8Array(64), { status: 206 })) as typeof fetch

/** Any body at a handler: an answer of 200 or 4xx in the wire format, never a throw. */
export const gatewayHandler = target({
  name: 'gateway.handler',
  async: true,
  arbitrary: fc.oneof(
    request.map((r) => JSON.stringify(r)),
    editedJson(request),
    fc.string({ maxLength: 64 }),
  ),
  async check(body) {
    const a = await handleTask(body, { limits: WORKER_LIMITS, fetch: stubFetch })
    ensure(a.status === 200 || (a.status >= 400 && a.status < 500), `status ${a.status} for ${body.slice(0, 200)}`)
    const back = parseResponse(JSON.parse(a.body))
    ensure(back.ok === (a.status === 200), `ok ${back.ok} with status ${a.status}`)
  },
})

const answer = record({
  v: fc.constant(1),
  ok: fc.constant(true),
  result: fc.oneof(
    record({ type: fc.constant('number'), value: fc.nat() }),
    record({ type: fc.constant('bigint'), value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String) }),
    record({ type: fc.constant('bytes'), length: fc.nat(100), base64: b64 }),
  ),
  execMs: fc.nat(1000),
})

/** Any answer from a function: parsed or a WireError, never another error. */
export const gatewayAnswer = target({
  name: 'gateway.answer',
  arbitrary: fc.oneof(
    editedJson(answer),
    hostileValue.map((v) => JSON.stringify(v) ?? 'null'),
  ),
  check(text) {
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch {
      return
    }
    typedOnly(() => parseResponse(json), [WireError])
  },
})
