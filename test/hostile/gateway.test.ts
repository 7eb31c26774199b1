// Attacks on the gateways. A function that answers garbage, wrong-shaped or
// oversized bodies: the gateway reports a failure, never a result, and keeps
// serving. Bodies and events sent to the function handlers: every one gets an
// error answer within the handler's budget, none throws. A URL source the
// gateway's policy refuses never reaches the function. A gateway description
// in a peer's capabilities is checked like the rest of them.
import type { ServerResponse } from 'node:http'
import { FunctionBackend, handleTask, LAMBDA_LIMITS, startGateway, WORKER_LIMITS } from '@peercompute/gateway'
import { prng } from '@peercompute/kernels/testing'
import { decodeTaskMessage, encodeTaskMessage, POLICIES, parseCapabilities, runOp, TASK_PROTOCOL } from 'peercompute'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import * as lambda from '../../packages/gateway/src/handlers/lambda.js'
import worker from '../../packages/gateway/src/handlers/worker.js'
import { httpHost } from '../integration/gateway-hosts.js'
import { startNodes, TEST_PEER, testRelay, waitFor } from '../integration/helpers.js'
import { startAttacker, watchUnhandled } from './attacker.js'

const cleanups: Array<() => Promise<unknown> | unknown> = []
let unhandled: ReturnType<typeof watchUnhandled>
beforeEach(() => {
  unhandled = watchUnhandled()
})
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
  unhandled.stop()
  expect(unhandled.errors).toEqual([])
})

const json = (res: ServerResponse, body: unknown, status = 200) =>
  res
    .writeHead(status, { 'content-type': 'application/json' })
    .end(typeof body === 'string' ? body : JSON.stringify(body))

/** What a lying or broken function answers, by name; `honest` runs the real handler. */
const ANSWERS: Record<string, (res: ServerResponse) => void> = {
  'not JSON': (res) => json(res, 'hello, I am not JSON'),
  empty: (res) => json(res, ''),
  'another version': (res) => json(res, { v: 2, ok: true, result: { type: 'number', value: 1 } }),
  'a negative count': (res) => json(res, { v: 1, ok: true, result: { type: 'number', value: -1 } }),
  'a count beyond the input': (res) => json(res, { v: 1, ok: true, result: { type: 'number', value: 1e9 } }),
  'bytes for a count': (res) => json(res, { v: 1, ok: true, result: { type: 'bytes', length: 1, base64: 'AA==' } }),
  'bytes of the wrong length': (res) =>
    json(res, { v: 1, ok: true, result: { type: 'bytes', length: 2, base64: 'AAA=' } }),
  'bytes that are not base64': (res) =>
    json(res, { v: 1, ok: true, result: { type: 'bytes', length: 3000, base64: '!'.repeat(4000) } }),
  'an error with a huge name': (res) =>
    json(res, { v: 1, ok: false, error: { name: 'E'.repeat(10_000), message: 'x' } }, 400),
  'an oversized body, streamed': (res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    const chunk = Buffer.alloc(64 * 1024, 0x20)
    for (let i = 0; i < 64; i++) res.write(chunk) // 4 MiB against a 1 KiB payload limit
    res.end()
  },
  'an oversized body, declared': (res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(2 ** 40) })
    res.end() // the socket closes early; the declared length alone must refuse it
  },
}

/** A function host that answers honestly until `mode` names one of ANSWERS; counts requests. */
async function hostileFunction() {
  const state = { mode: 'honest', requests: 0 }
  const host = await httpHost(async (req, res) => {
    const parts: Buffer[] = []
    for await (const c of req) parts.push(c as Buffer)
    state.requests++
    const lie = ANSWERS[state.mode]
    if (lie) return lie(res)
    const a = await handleTask(Buffer.concat(parts).toString('utf8'), { limits: LAMBDA_LIMITS })
    json(res, a.body, a.status)
  })
  cleanups.push(() => host.stop())
  return { ...host, state }
}

/** A relay and a gateway peer (8 KiB payload limit) in front of a hostileFunction(). */
async function gatewayToHostileFunction(extra: { listen?: string[] } = {}) {
  const fn = await hostileFunction()
  const relay = await testRelay()
  cleanups.push(() => relay.stop())
  const gw = await startGateway({
    ...TEST_PEER,
    relays: [relay.wsAddr],
    ...extra,
    target: fn.url,
    substrate: 'http',
    payloadBytes: 8192,
  })
  cleanups.push(() => gw.stop())
  return { fn, relay, gw }
}

describe('a function that answers garbage', () => {
  it('every malformed, wrong-shaped or oversized answer is a FunctionError, never a result', async () => {
    const fn = await hostileFunction()
    const backend = new FunctionBackend({ target: fn.url, kind: 'http', payloadBytes: 1024 })
    cleanups.push(() => backend.stop())
    const input = prng(1).bytes(1000)
    for (const mode of Object.keys(ANSWERS)) {
      fn.state.mode = mode
      for (const op of ['counteq', 'xor'] as const) {
        const err = await backend.run(op, input, { params: { imm: 1 } }).then(
          (r) => new Error(`${mode}: ${op} gave a result ${String(r.output)}`),
          (e: Error) => e,
        )
        expect(err.name, `${mode} (${op}): ${err.message}`).toBe('FunctionError')
      }
    }
    fn.state.mode = 'honest'
    await expect(backend.run('counteq', input, { params: { imm: 1 } })).resolves.toMatchObject({
      output: runOp('counteq', input, { imm: 1 }),
    })
  })

  it('through the mesh: the job is right (an honest peer ran the pieces), the gateway failed them and kept serving', async () => {
    const { fn, relay, gw } = await gatewayToHostileFunction()
    const [honest, sub] = await startNodes(2, relay.wsAddr)
    cleanups.push(() => Promise.all([honest.stop(), sub.stop()]))
    await waitFor('the submitter sees the gateway and the honest peer', () => {
      const ps = sub.getStatus().peers.filter((p) => p.connected && p.caps.kernels.includes('xor'))
      return ps.some((p) => p.id === gw.node.peerId) && ps.some((p) => p.id === honest.peerId)
    })
    const data = prng(2).bytes(24 * 1024)
    const modes = Object.keys(ANSWERS)
    let i = 0
    fn.state.mode = modes[0]
    const job = sub.compute.submit({
      op: 'xor',
      data,
      imm: 0x33,
      pieceBytes: 2048,
      includeLocal: false,
      peers: [gw.node.peerId, honest.peerId],
      policy: POLICIES['least-loaded'],
      maxAttempts: 8,
    })
    job.addEventListener('piece', () => {
      fn.state.mode = modes[++i % modes.length]
    })
    const r = await job.result
    expect(r.result).toEqual(runOp('xor', data, { imm: 0x33 }))
    expect(r.pieces.every((p) => p.substrate === 'node')).toBe(true)
    const failedThere = r.pieces.flatMap((p) => p.runs).filter((run) => run.peer === gw.node.peerId && !run.ok)
    expect(failedThere.length).toBeGreaterThan(0)
    expect(gw.node.getStatus().tasks.executor.failed).toBeGreaterThan(0)
    // and it still serves: an honest function again gives right results through it
    fn.state.mode = 'honest'
    const again = await sub.compute.submit({
      op: 'counteq',
      data,
      imm: 5,
      pieceBytes: 4096, // within its 8 KiB payload limit: placement keeps larger inline pieces off it
      includeLocal: false,
      peers: [gw.node.peerId],
    }).result
    expect(again.result).toBe(runOp('counteq', data, { imm: 5 }))
  })
})

describe('a peer at a gateway', () => {
  it('an inline task beyond the function’s payload limit is refused at its request, before its input is taken', async () => {
    const { fn, gw } = await gatewayToHostileFunction({ listen: ['/ip4/127.0.0.1/tcp/0'] })
    const addr = gw.node.network.libp2p
      .getMultiaddrs()
      .map(String)
      .find((a) => a.startsWith('/ip4/127.0.0.1/tcp/') && !a.includes('/ws') && !a.includes('p2p-circuit'))
    const atk = await startAttacker()
    cleanups.push(() => atk.stop())
    const s = await atk.open(addr as string, TASK_PROTOCOL)
    const request = (id: number, kernel: string, length: number) =>
      encodeTaskMessage({
        type: 'request',
        id,
        header: { kernel, source: { kind: 'inline', length }, deadlineMs: 10_000 },
        data: new Uint8Array(0),
      })
    const before = fn.state.requests
    s.frame(request(1, 'counteq', 8193))
    s.frame(request(2, 'xor', 1 << 20))
    await waitFor('two refusals', () => s.frames.length >= 2)
    expect(s.frames.map((f) => decodeTaskMessage(f))).toMatchObject([
      { type: 'error', id: 1, name: 'PayloadTooLargeError' },
      { type: 'error', id: 2, name: 'PayloadTooLargeError' },
    ])
    expect(gw.node.getStatus().tasks.executor.peakBytesHeld).toBe(0)
    expect(fn.state.requests).toBe(before)
  })
})

describe('what reaches the function handlers', () => {
  const bodies: Record<string, string> = {
    'not JSON': '{"v":1,',
    'an array': '[1,2,3]',
    'no version': '{"op":"counteq","data":""}',
    'an unknown op': '{"v":1,"op":"rm -rf","data":""}',
    'both data and range': '{"v":1,"op":"counteq","data":"","range":{"url":"http://a/","offset":0,"length":1}}',
    neither: '{"v":1,"op":"counteq"}',
    'imm out of range': '{"v":1,"op":"counteq","params":{"imm":256},"data":""}',
    'a seed of 2^64': '{"v":1,"op":"fnv64","params":{"seed":"18446744073709551616"},"data":""}',
    'a 33-bit crc seed': '{"v":1,"op":"crc32c","params":{"seed":"4294967296"},"data":""}',
    'a key that is not base64': '{"v":1,"op":"xor","params":{"key":"$$$"},"data":"AAAA"}',
    'data that is not base64': '{"v":1,"op":"counteq","data":"A===="}',
    'a file: URL': '{"v":1,"op":"counteq","range":{"url":"file:///etc/passwd","offset":0,"length":10}}',
    'a relative URL': '{"v":1,"op":"counteq","range":{"url":"/etc/passwd","offset":0,"length":10}}',
    'a negative offset': '{"v":1,"op":"counteq","range":{"url":"http://a/","offset":-1,"length":10}}',
    'a loopback range':
      '{"v":1,"op":"counteq","range":{"url":"http://127.0.0.1:9001/2018-06-01/runtime/invocation/next","offset":0,"length":10}}',
    'the metadata address':
      '{"v":1,"op":"xor","range":{"url":"http://169.254.169.254/latest/","offset":0,"length":10}}',
    'a loopback range, spelt in hex': '{"v":1,"op":"counteq","range":{"url":"http://0x7f.1/","offset":0,"length":10}}',
    'an IPv6 literal': '{"v":1,"op":"counteq","range":{"url":"http://[::1]/","offset":0,"length":10}}',
    localhost: '{"v":1,"op":"counteq","range":{"url":"http://localhost/","offset":0,"length":10}}',
    'a private range': '{"v":1,"op":"counteq","range":{"url":"http://10.1.2.3/","offset":0,"length":10}}',
    'credentials in the URL':
      '{"v":1,"op":"counteq","range":{"url":"http://u:p@data.invalid/","offset":0,"length":10}}',
    'a range beyond the budget': `{"v":1,"op":"counteq","range":{"url":"http://a/","offset":0,"length":${2 ** 40}}}`,
    'a body beyond the budget': `{"v":1,"op":"counteq","data":"${'A'.repeat(WORKER_LIMITS.maxBodyBytes)}"}`,
  }

  it('every bad body gets a 4xx error answer, and nothing is fetched', async () => {
    let fetched = 0
    const env = {
      limits: WORKER_LIMITS,
      fetch: (async () => {
        fetched++
        return new Response('')
      }) as typeof fetch,
    }
    for (const [what, body] of Object.entries(bodies)) {
      const a = await handleTask(body, env)
      expect(a.status, what).toBeGreaterThanOrEqual(400)
      expect(a.status, what).toBeLessThan(500)
      expect(JSON.parse(a.body), what).toMatchObject({ v: 1, ok: false })
    }
    expect(fetched).toBe(0)
  })

  it('a data host that sends more than the range, or a redirect, gives no result from it', async () => {
    const body = '{"v":1,"op":"counteq","range":{"url":"http://data.invalid/x","offset":0,"length":4}}'
    const long = await handleTask(body, {
      limits: WORKER_LIMITS,
      fetch: (async () => new Response(new Uint8Array(1 << 20), { status: 206 })) as typeof fetch,
    })
    // only the range's 4 bytes are read; the rest is dropped unread
    expect(JSON.parse(long.body)).toMatchObject({ ok: true, result: { value: 4 } })
    const redirect = await handleTask(body, {
      limits: WORKER_LIMITS,
      fetch: (async () =>
        new Response(null, { status: 302, headers: { location: 'http://169.254.169.254/' } })) as typeof fetch,
    })
    expect(JSON.parse(redirect.body)).toMatchObject({ ok: false, error: { name: 'DataSourceError' } })
  })

  it('the Lambda handler refuses odd events, other methods and bodies over 6 MB', async () => {
    const h = lambda.handler
    expect((await h(null as never)).statusCode).toBe(400)
    expect((await h({ requestContext: { http: { method: 'GET' } } })).statusCode).toBe(405)
    expect((await h({ body: '!!!', isBase64Encoded: true })).statusCode).toBe(400)
    expect((await h({ body: 'A'.repeat(9_000_000), isBase64Encoded: true })).statusCode).toBe(413)
    expect((await h({ body: 'x'.repeat(6_000_001) })).statusCode).toBe(413)
  })

  it('the Worker refuses other methods and bodies over its budget, declared or streamed', async () => {
    expect((await worker.fetch(new Request('http://w/', { method: 'GET' }))).status).toBe(405)
    const declared = new Request('http://w/', {
      method: 'POST',
      body: 'x',
      headers: { 'content-length': String(2 ** 40) },
    })
    expect((await worker.fetch(declared)).status).toBe(413)
    const chunk = new Uint8Array(1 << 20)
    let sent = 0
    const stream = new ReadableStream<Uint8Array>({
      pull(c) {
        if (sent++ > 64) c.close()
        else c.enqueue(chunk)
      },
    })
    const streamed = new Request('http://w/', { method: 'POST', body: stream, duplex: 'half' } as RequestInit)
    expect((await worker.fetch(streamed)).status).toBe(413)
    expect(sent).toBeLessThan(40) // it stopped reading at its budget
  })
})

describe('URL sources through a gateway', () => {
  it('a name that resolves to loopback is refused before the function hears of it', async () => {
    const fn = await hostileFunction()
    const backend = new FunctionBackend({ target: fn.url, kind: 'http' })
    cleanups.push(() => backend.stop())
    await expect(
      backend.run('counteq', { url: 'http://localhost.:8080/x', offset: 0, length: 10 }, {}),
    ).rejects.toMatchObject({
      name: 'UrlNotAllowedError',
    })
    expect(fn.state.requests).toBe(0)
  })

  it('a URL its policy refuses (loopback, on default options) never reaches the function', async () => {
    const fn = await hostileFunction()
    const backend = new FunctionBackend({ target: fn.url, kind: 'http' })
    cleanups.push(() => backend.stop())
    for (const url of [
      'http://127.0.0.1:1/x',
      'http://[::1]/x',
      'http://169.254.169.254/latest',
      'file:///etc/passwd',
    ]) {
      await expect(backend.run('counteq', { url, offset: 0, length: 10 }, {})).rejects.toMatchObject({
        name: 'UrlNotAllowedError',
      })
    }
    expect(fn.state.requests).toBe(0)
  })
})

describe('a gateway description in capabilities', () => {
  const caps = {
    cores: 2,
    memoryMb: 128,
    gpu: false,
    kernels: ['counteq'],
    substrate: 'gateway',
    price: { model: 'per-invocation', usd: 0.1 },
  }
  const good = {
    kind: 'aws-lambda',
    latencyMs: 12,
    payloadBytes: 4_400_000,
    maxDurationS: 900,
    concurrency: 4,
    memoryMb: 1024,
  }
  it('is read when well-formed and refused as a ProtocolError otherwise', () => {
    expect(parseCapabilities({ ...caps, gateway: good }).gateway).toEqual(good)
    for (const bad of [
      { ...good, kind: 'aws-lambda-but-free' },
      { ...good, latencyMs: -1 },
      { ...good, concurrency: 0 },
      { ...good, payloadBytes: 2 ** 60 },
      { ...good, maxDurationS: 'forever' },
      'lambda',
      null,
    ]) {
      expect(() => parseCapabilities({ ...caps, gateway: bad })).toThrow(
        expect.objectContaining({ name: 'ProtocolError' }),
      )
    }
  })
})
