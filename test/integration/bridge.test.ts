import { type ChildProcess, spawn } from 'node:child_process'
import { createServer, type ServerResponse } from 'node:http'
import { prng } from '@peercompute/kernels/testing'
import { type NodeKernel, runOp } from 'peercompute'
import { createClient } from 'redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLI, startNodes, testRelay, waitFor } from './helpers.js'
import { startRedis, type TestRedis } from './redis-server.js'

// The Redis bridge end to end: a real redis-server, a relay, two worker nodes,
// and `peercompute bridge` as its own process (spawned from dist), fed with the
// real redis-cli as the original system's producers would.

const DATA = prng(13).bytes(6 * 1024 * 1024 + 11)

/** Serves DATA over loopback with Range; while `hold` is set, requests wait until release(). */
function dataServer() {
  const held: Array<() => void> = []
  let requests = 0
  const state = { hold: false }
  const server = createServer((req, res: ServerResponse) => {
    requests++
    const answer = () => {
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')
      if (!m) {
        res.writeHead(200, { 'content-length': DATA.length })
        res.end(DATA)
        return
      }
      const a = Number(m[1])
      const b = Math.min(Number(m[2]), DATA.length - 1)
      res.writeHead(206, { 'content-range': `bytes ${a}-${b}/${DATA.length}`, 'content-length': b - a + 1 })
      res.end(DATA.subarray(a, b + 1))
    }
    if (state.hold) held.push(answer)
    else answer()
  })
  return {
    server,
    state,
    held,
    get requests() {
      return requests
    },
    release() {
      state.hold = false
      for (const a of held.splice(0)) a()
    },
  }
}

/** `peercompute bridge` in its own process; its stdout lines are kept. */
function spawnBridge(redisUrl: string, relay: string, id: string) {
  const lines: string[] = []
  const proc: ChildProcess = spawn(
    process.execPath,
    [CLI, 'bridge', '--redis', redisUrl, '--relay', relay, '--loopback', '--no-gpu', '--max-workers', '1'].concat([
      '--id',
      id,
      '--peers',
      '2',
      '--no-local',
      '--concurrency',
      '2',
      '--lease',
      '2',
    ]),
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  let buf = ''
  proc.stdout?.on('data', (b: Buffer) => {
    buf += b
    const parts = buf.split('\n')
    buf = parts.pop() ?? ''
    lines.push(...parts)
  })
  const ready = new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      if (lines.some((l) => / ready: /.test(l))) {
        clearInterval(t)
        resolve()
      }
    }, 50)
    proc.once('exit', (code) => {
      clearInterval(t)
      reject(new Error(`bridge exited (${code}) before it was ready:\n${lines.join('\n')}`))
    })
  })
  return { proc, lines, ready }
}

async function kill(proc: ChildProcess, sig: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const gone = new Promise((r) => proc.once('exit', r))
  process.kill(proc.pid as number, sig)
  await gone
}

/** Polls an async condition (a Redis read) until true, or fails after `ms`. */
async function until(what: string, cond: () => Promise<boolean>, ms: number): Promise<void> {
  const t0 = Date.now()
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for: ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

function job(id: string, program: Record<string, unknown>): string {
  return JSON.stringify({ job_id: id, program, required_memory_mb: 64, required_duration_seconds: 60 })
}

const hex64 = (x: unknown) => `0x${(x as bigint).toString(16).padStart(16, '0')}`

describe('peercompute bridge', () => {
  let redis: TestRedis
  let relay: Awaited<ReturnType<typeof testRelay>>
  let nodes: NodeKernel[]
  let data: ReturnType<typeof dataServer>
  let url: string
  let db: ReturnType<typeof createClient>
  const bridges: ChildProcess[] = []
  const PROCESSING = 'packetfs:jobs:processing:b1'

  beforeAll(async () => {
    redis = await startRedis()
    db = createClient({ url: redis.url })
    db.on('error', () => {})
    await db.connect()
    relay = await testRelay()
    nodes = await startNodes(2, relay.tcpAddr)
    data = dataServer()
    await new Promise<void>((r) => data.server.listen(0, '127.0.0.1', () => r()))
    url = `http://127.0.0.1:${(data.server.address() as { port: number }).port}/blob.bin`
  }, 60_000)

  afterAll(async () => {
    for (const b of bridges) await kill(b)
    data?.release()
    await new Promise((r) => data?.server.close(r))
    await Promise.all((nodes ?? []).map((n) => n.stop()))
    await relay?.stop()
    if (db?.isOpen) db.destroy()
    await redis?.stop()
  }, 60_000)

  const has = async (id: string) => (await db.exists(`packetfs:results:${id}`)) === 1
  const result = async (id: string) => JSON.parse((await db.get(`packetfs:results:${id}`)) ?? 'null')

  it('runs the original JSON pushed with redis-cli and writes the right results, TTL and metrics', async () => {
    const b = spawnBridge(redis.url, relay.tcpAddr, 'b1')
    bridges.push(b.proc)
    await b.ready
    const slice = (o: number, n: number) => DATA.subarray(o, o + n)
    await redis.cli(
      'LPUSH',
      'packetfs:jobs:queue',
      job('crc-1', { op: 'crc32c', data_url: url, offset: 7, length: 5_000_000, imm: 0 }),
    )
    await redis.cli(
      'LPUSH',
      'packetfs:jobs:queue',
      job('cnt-1', { op: 'counteq', data_url: url, offset: 0, length: DATA.length, imm: 42 }),
    )
    await redis.cli(
      'LPUSH',
      'packetfs:jobs:queue',
      job('fnv-1', { op: 'fnv64', data_url: url, offset: 1000, length: 300_000 }),
    )
    await redis.cli(
      'LPUSH',
      'packetfs:jobs:queue',
      job('xor-1', { op: 'xor', data_url: url, offset: 3, length: 4096, imm: 0x5a }),
    )
    for (const id of ['crc-1', 'cnt-1', 'fnv-1', 'xor-1']) await until(`the result of ${id}`, () => has(id), 60_000)

    const crc = await result('crc-1')
    expect(crc).toMatchObject({ job_id: 'crc-1', success: true, substrate: 'node', op: 'crc32c' })
    expect(crc.result_data).toBe(runOp('crc32c', slice(7, 5_000_000)))
    expect(crc.execution_time_ms).toBeGreaterThan(0)
    expect(crc.cost_usd).toBe(0)
    expect((await result('cnt-1')).result_data).toBe(runOp('counteq', DATA, { imm: 42 }))
    expect((await result('fnv-1')).result_data).toBe(hex64(runOp('fnv64', slice(1000, 300_000))))
    const xor = await result('xor-1')
    expect(Buffer.from(xor.result_data, 'base64')).toEqual(
      Buffer.from(runOp('xor', slice(3, 4096), { imm: 0x5a }) as Uint8Array),
    )
    // the pieces ran on the workers (the bridge runs none itself: --no-local)
    expect(crc.peers.length).toBeGreaterThan(0)
    for (const p of crc.peers) expect(nodes.map((n) => n.peerId)).toContain(p)

    const ttl = Number(await redis.cli('TTL', 'packetfs:results:crc-1'))
    expect(ttl).toBeGreaterThan(86_000)
    expect(ttl).toBeLessThanOrEqual(86_400)
    const metrics = (await db.lRange('packetfs:metrics', 0, -1)).map((m) => JSON.parse(m))
    const crcPieces = metrics.filter((m) => m.job_id === 'crc-1')
    expect(crcPieces).toHaveLength(crc.pieces)
    expect(crcPieces.reduce((s, m) => s + m.length, 0)).toBe(5_000_000)
    expect(crcPieces[0]).toMatchObject({ op: 'crc32c', substrate: 'node' })
    expect(await db.lLen(PROCESSING)).toBe(0)
    expect(await db.lLen('packetfs:jobs:queue')).toBe(0)
  }, 90_000)

  it('writes an error result for a malformed job and goes on', async () => {
    await redis.cli('LPUSH', 'packetfs:jobs:queue', '{"job_id": "bad-1", "program": {"op": "sha1", "length": -4}}')
    await redis.cli('LPUSH', 'packetfs:jobs:queue', 'this is not json')
    await redis.cli('LPUSH', 'packetfs:jobs:queue', job('after-bad', { op: 'crc32c', data_url: url, length: 1000 }))
    await until('the result of the job after the bad ones', () => has('after-bad'), 30_000)
    const bad = await result('bad-1')
    expect(bad).toMatchObject({ job_id: 'bad-1', success: false, result_data: null, error_type: 'InvalidJobError' })
    expect(bad.error).toMatch(/program\.op/)
    expect((await result('after-bad')).result_data).toBe(runOp('crc32c', DATA.subarray(0, 1000)))
    const rejected = (await db.lRange('packetfs:jobs:rejected', 0, -1)).map((r) => JSON.parse(r))
    expect(rejected).toEqual([
      expect.objectContaining({ reason: 'the queued item is not JSON', head: 'this is not json' }),
    ])
    expect(await db.lLen(PROCESSING)).toBe(0)
  }, 60_000)

  it('a bridge SIGKILLed mid-job: after restart the job completes once, with the right result', async () => {
    await kill(bridges.pop() as ChildProcess)
    const first = spawnBridge(redis.url, relay.tcpAddr, 'b1')
    bridges.push(first.proc)
    await first.ready
    const raw = job('killed-1', { op: 'crc32c', data_url: url, offset: 5, length: 3_000_000 })
    data.state.hold = true
    const before = data.requests
    await redis.cli('LPUSH', 'packetfs:jobs:queue', raw)
    // in flight: in this bridge's processing list, and its data asked for by a worker
    await waitFor('the job in the processing list while its data is asked for', () => data.requests > before, 30_000)
    expect(await db.lRange(PROCESSING, 0, -1)).toEqual([raw])
    await kill(first.proc, 'SIGKILL')
    expect(await db.lRange(PROCESSING, 0, -1)).toEqual([raw])
    expect(await db.exists('packetfs:results:killed-1')).toBe(0)
    data.release()

    const second = spawnBridge(redis.url, relay.tcpAddr, 'b1')
    bridges.push(second.proc)
    await second.ready
    expect(second.lines.join('\n')).toMatch(/1 re-queued/)
    await until('the result of killed-1', () => has('killed-1'), 60_000)
    const r = await result('killed-1')
    expect(r).toMatchObject({ success: true, result_data: runOp('crc32c', DATA.subarray(5, 3_000_005)) })
    expect(await db.lLen(PROCESSING)).toBe(0)
    expect(await db.lLen('packetfs:jobs:queue')).toBe(0)

    // pushed again (a producer's retry, or a crash between the result and LREM): not run a second time
    await redis.cli('LPUSH', 'packetfs:jobs:queue', raw)
    await waitFor('the repeat skipped', () => second.lines.some((l) => /killed-1 already has a result/.test(l)), 30_000)
    const runs = [...first.lines, ...second.lines].filter((l) => /job killed-1 (running|done)/.test(l))
    expect(runs.filter((l) => / done/.test(l))).toHaveLength(1)
    const metrics = (await db.lRange('packetfs:metrics', 0, -1)).map((m) => JSON.parse(m))
    expect(metrics.filter((m) => m.job_id === 'killed-1')).toHaveLength(r.pieces)
    expect(await db.lLen(PROCESSING)).toBe(0)
  }, 120_000)
})
