import { spawn } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import { type Gateway, handleTask, LAMBDA_LIMITS, startGateway } from '@peercompute/gateway'
import { prng } from '@peercompute/kernels/testing'
import { type NodeKernel, POLICIES, runOp } from 'peercompute'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bundled, type Host, httpHost, lambdaHost, workerHost } from './gateway-hosts.js'
import { CLI, startNodes, TEST_PEER, testRelay, waitFor } from './helpers.js'

// A relay, two gateways (workerd running the Worker module; lambda-local running
// the Lambda handler behind a Function URL), a Node worker and a submitter, all on loopback.

const WORKER_TOKEN = 'worker-secret'
const LAMBDA_TOKEN = 'lambda-secret'
const PRICES = {
  worker: { model: 'per-invocation' as const, usd: 0.001 },
  lambda: { model: 'per-gb' as const, usd: 2 },
}

const stops: Array<() => Promise<unknown> | unknown> = []
let worker: Host
let lambda: Host & { invocations: number }
let gwWorker: Gateway
let gwLambda: Gateway
let nodeWorker: NodeKernel
let submitter: NodeKernel
let dataUrl: string
let relayAddr: string
const data = prng(7).bytes(48 * 1024 + 13)

/** Serves `bytes` with Range support and a strong ETag. */
async function serveData(bytes: Uint8Array): Promise<string> {
  const server: Server = createServer((req, res) => {
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')
    if (!m) {
      res.writeHead(200, { 'content-length': bytes.length, etag: '"v1"' }).end(bytes)
      return
    }
    const a = Number(m[1])
    const b = Math.min(Number(m[2]), bytes.length - 1)
    res.writeHead(206, {
      'content-range': `bytes ${a}-${b}/${bytes.length}`,
      'content-length': b - a + 1,
      etag: '"v1"',
    })
    res.end(bytes.subarray(a, b + 1))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  stops.push(() => new Promise((r) => server.close(() => r(undefined))))
  return `http://127.0.0.1:${(server.address() as { port: number }).port}/data.bin`
}

beforeAll(async () => {
  const b = await bundled()
  stops.push(() => b.cleanup())
  worker = await workerHost(b.worker, b.dir, WORKER_TOKEN)
  stops.push(() => worker.stop())
  lambda = await lambdaHost(b.lambda, LAMBDA_TOKEN)
  stops.push(() => lambda.stop())
  dataUrl = await serveData(data)
  const relay = await testRelay()
  stops.push(() => relay.stop())
  const common = { ...TEST_PEER, relays: [relay.wsAddr], urlPolicy: { allowPrivate: true } }
  gwWorker = await startGateway({
    ...common,
    target: worker.url,
    substrate: 'cloudflare-worker',
    token: WORKER_TOKEN,
    price: PRICES.worker,
    concurrency: 2,
  })
  stops.push(() => gwWorker.stop())
  gwLambda = await startGateway({
    ...common,
    target: lambda.url,
    substrate: 'aws-lambda',
    token: LAMBDA_TOKEN,
    price: PRICES.lambda,
    concurrency: 2,
  })
  stops.push(() => gwLambda.stop())
  relayAddr = relay.wsAddr
  ;[nodeWorker, submitter] = await startNodes(2, relay.wsAddr)
  stops.push(() => Promise.all([nodeWorker.stop(), submitter.stop()]))
  const want = [gwWorker.node.peerId, gwLambda.node.peerId, nodeWorker.peerId]
  await waitFor('the submitter sees both gateways and the worker, with their capabilities', () => {
    const peers = submitter.getStatus().peers
    return want.every((id) => peers.some((p) => p.id === id && p.connected && p.caps.kernels.includes('xor')))
  })
})

afterAll(async () => {
  for (const s of stops.splice(0).reverse()) await s()
})

describe('gateways in front of real local function hosts', () => {
  it('the hosts answer real HTTP on loopback and refuse callers without the token', async () => {
    const task = JSON.stringify({ v: 1, op: 'crc32c', data: Buffer.from('123456789').toString('base64') })
    for (const [host, token] of [
      [worker, WORKER_TOKEN],
      [lambda, LAMBDA_TOKEN],
    ] as const) {
      const denied = await fetch(host.url, {
        method: 'POST',
        body: task,
        headers: { 'content-type': 'application/json' },
      })
      expect(denied.status).toBe(401)
      const ok = await fetch(host.url, {
        method: 'POST',
        body: task,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      })
      expect(ok.status).toBe(200)
      expect(await ok.json()).toMatchObject({ ok: true, result: { type: 'number', value: 0xe3069283 } })
    }
    // a Function URL base64-encodes a body that is not text: the handler decodes it
    const b64 = await fetch(lambda.url, {
      method: 'POST',
      body: task,
      headers: { 'content-type': 'application/octet-stream', authorization: `Bearer ${LAMBDA_TOKEN}` },
    })
    expect(await b64.json()).toMatchObject({ ok: true, result: { value: 0xe3069283 } })
  })

  it('advertise substrate, price, measured latency and limits in their capabilities', () => {
    const peers = submitter.getStatus().peers
    const w = peers.find((p) => p.id === gwWorker.node.peerId)
    const l = peers.find((p) => p.id === gwLambda.node.peerId)
    expect(w?.caps).toMatchObject({ substrate: 'gateway', price: PRICES.worker, cores: 2 })
    expect(w?.caps.gateway).toMatchObject({
      kind: 'cloudflare-worker',
      memoryMb: 128,
      maxDurationS: 30,
      concurrency: 2,
    })
    expect(l?.caps.gateway).toMatchObject({ kind: 'aws-lambda', payloadBytes: 4_400_000, maxDurationS: 900 })
    expect(l?.caps.price).toEqual(PRICES.lambda)
    expect(w?.caps.gateway?.latencyMs).toBeGreaterThan(0)
    expect(l?.caps.gateway?.latencyMs).toBeGreaterThan(0)
  })

  it('a job split over both gateways and a Node peer: the local kernel’s result, each piece priced by its gateway', async () => {
    const peers = [gwWorker.node.peerId, gwLambda.node.peerId, nodeWorker.peerId]
    const job = submitter.compute.submit({
      op: 'xor',
      data,
      imm: 0x5a,
      pieceBytes: 2048,
      includeLocal: false,
      peers,
      policy: POLICIES['least-loaded'],
    })
    const r = await job.result
    expect(r.result).toEqual(runOp('xor', data, { imm: 0x5a }))
    const substrates = new Set(r.pieces.map((p) => p.substrate))
    expect(substrates).toEqual(new Set(['cloudflare-worker', 'aws-lambda', 'node']))
    for (const p of r.pieces) {
      const want =
        p.substrate === 'cloudflare-worker'
          ? PRICES.worker.usd
          : p.substrate === 'aws-lambda'
            ? (PRICES.lambda.usd * p.length) / 1e9
            : 0
      expect(p.costUsd).toBeCloseTo(want, 12)
    }
    expect(r.costUsd).toBeCloseTo(
      r.pieces.reduce((s, p) => s + p.costUsd, 0),
      12,
    )
    expect(r.liars).toEqual([])
  })

  it('passes URL sources on as ranges the functions fetch themselves', async () => {
    const before = lambda.invocations
    const job = submitter.compute.submit({
      op: 'counteq',
      data: { url: dataUrl, length: data.length },
      imm: 3,
      pieceBytes: 4096,
      includeLocal: false,
      peers: [gwWorker.node.peerId, gwLambda.node.peerId],
      policy: POLICIES['least-loaded'],
    })
    const r = await job.result
    expect(r.result).toBe(runOp('counteq', data, { imm: 3 }))
    expect(new Set(r.pieces.map((p) => p.substrate))).toEqual(new Set(['cloudflare-worker', 'aws-lambda']))
    expect(lambda.invocations).toBeGreaterThan(before)
  })

  it('the handler itself bounds its input (Lambda: 6 MB payloads)', async () => {
    const big = 'A'.repeat(LAMBDA_LIMITS.maxBodyBytes + 1)
    const a = await handleTask(big, { limits: LAMBDA_LIMITS })
    expect(a.status).toBe(413)
    const range = await handleTask(
      JSON.stringify({ v: 1, op: 'xor', range: { url: dataUrl, offset: 0, length: LAMBDA_LIMITS.maxOutputBytes + 1 } }),
      { limits: LAMBDA_LIMITS },
    )
    expect(range.status).toBe(413)
  })
})

describe('the command', () => {
  it('`peercompute gateway` joins the mesh in front of a function and stops on SIGTERM', async () => {
    const proc = spawn(
      process.execPath,
      [CLI, 'gateway', '--relay', relayAddr, '--target', worker.url, '--substrate', 'cloudflare-worker'].concat([
        '--price-model',
        'per-hour',
        '--price',
        '0.5',
        '--concurrency',
        '3',
        '--loopback',
      ]),
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, PEERCOMPUTE_FUNCTION_TOKEN: WORKER_TOKEN } },
    )
    const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)))
    try {
      const id = await new Promise<string>((resolve, reject) => {
        let out = ''
        proc.stdout?.on('data', (b: Buffer) => {
          out += b
          const m = /gateway (\S+) ready/.exec(out)
          if (m) resolve(m[1])
        })
        exited.then((code) => reject(new Error(`the gateway exited (${code}) before it was ready`)))
      })
      await waitFor('the submitter sees the gateway the command started', () =>
        submitter.getStatus().peers.some((p) => p.id === id && p.caps.gateway?.kind === 'cloudflare-worker'),
      )
      const caps = submitter.getStatus().peers.find((p) => p.id === id)?.caps
      expect(caps?.price).toEqual({ model: 'per-hour', usd: 0.5 })
      expect(caps?.gateway?.concurrency).toBe(3)
      proc.kill('SIGTERM')
      expect(await exited).toBe(0)
    } finally {
      if (proc.exitCode === null) proc.kill('SIGKILL')
    }
  })

  it('`peercompute gateway` refuses a bad substrate with its usage', async () => {
    const proc = spawn(
      process.execPath,
      [CLI, 'gateway', '--relay', relayAddr, '--target', worker.url, '--substrate', 'ec2'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    )
    let err = ''
    proc.stderr?.on('data', (b: Buffer) => {
      err += b
    })
    const code = await new Promise<number | null>((r) => proc.once('exit', (c) => r(c)))
    expect(code).toBe(2)
    expect(err).toMatch(/--substrate must be one of aws-lambda, cloudflare-worker, http/)
  })
})

describe('a function that answers 429 for a while', () => {
  it('the gateway cools down and reports busy; the job goes elsewhere or waits, and its concurrency is kept', async () => {
    let busyLeft = 0
    let now = 0
    let peak = 0
    let seen429 = 0
    const fn = await httpHost(async (req, res) => {
      const parts: Buffer[] = []
      for await (const c of req) parts.push(c as Buffer)
      now++
      peak = Math.max(peak, now)
      try {
        if (busyLeft > 0) {
          busyLeft--
          seen429++
          res.writeHead(429).end()
          return
        }
        const a = await handleTask(Buffer.concat(parts).toString('utf8'), { limits: LAMBDA_LIMITS })
        res.writeHead(a.status, { 'content-type': 'application/json' }).end(a.body)
      } finally {
        now--
      }
    })
    const relay = await testRelay()
    const gw = await startGateway({
      ...TEST_PEER,
      relays: [relay.wsAddr],
      target: fn.url,
      substrate: 'http',
      concurrency: 2,
      backoff: { initialMs: 100, maxMs: 400 },
      price: { model: 'per-hour', usd: 3.6 },
    })
    const [sub] = await startNodes(1, relay.wsAddr)
    try {
      await waitFor('the submitter sees the gateway', () =>
        sub.getStatus().peers.some((p) => p.id === gw.node.peerId && p.connected && p.caps.gateway),
      )
      // the backend on its own: a 429 starts a cool-down in which tasks are refused as busy
      busyLeft = 1
      const one = new Uint8Array([1, 2, 3])
      await expect(gw.backend.run('counteq', one, { params: { imm: 1 } })).rejects.toMatchObject({
        name: 'RateLimitedError',
      })
      expect(gw.backend.coolingDown).toBe(true)
      expect(gw.backend.load().queued).toBeGreaterThan(0)
      await expect(gw.backend.run('counteq', one, { params: { imm: 1 } })).rejects.toMatchObject({
        name: 'RateLimitedError',
      })
      await waitFor('the cool-down ends', () => !gw.backend.coolingDown, 5000)
      await expect(gw.backend.run('counteq', one, { params: { imm: 1 } })).resolves.toMatchObject({ output: 1 })

      // through the mesh: the only peer is busy for a while, the job waits and completes right
      busyLeft = 3
      const data = prng(9).bytes(20_000)
      const job = sub.compute.submit({
        op: 'crc32c',
        data,
        pieceBytes: 1000,
        includeLocal: false,
        peers: [gw.node.peerId],
      })
      const r = await job.result
      expect(r.result).toBe(runOp('crc32c', data))
      expect(seen429).toBe(4)
      const refusals = r.pieces.flatMap((p) => p.runs).filter((run) => run.remoteError === 'RateLimitedError')
      expect(refusals.length).toBeGreaterThan(0)
      expect(peak).toBeLessThanOrEqual(2)
      // per-hour: what each piece cost follows the time it held the function
      for (const p of r.pieces) {
        const ok = p.runs.find((run) => run.ok)
        expect(p.costUsd).toBeCloseTo((3.6 * (ok?.execMs ?? 0)) / 3.6e6, 12)
      }
    } finally {
      await sub.stop()
      await gw.stop()
      await relay.stop()
      await fn.stop()
    }
  })
})
