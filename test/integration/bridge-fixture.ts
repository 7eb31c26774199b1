import { createServer, type Server } from 'node:http'
import { prng } from '@peercompute/kernels/testing'
import { createNode, type NodeKernel, RedisBridge, type RedisBridgeOptions } from 'peercompute'
import { createClient } from 'redis'
import { TEST_PEER } from './helpers.js'
import { startRedis, type TestRedis } from './redis-server.js'

// In-process Redis bridge tests: a redis-server of their own, a loopback
// data host (whose answers can be held back), nodes with no peers (their
// pieces run here) and RedisBridge instances on them.

/** The bytes the data host serves. */
export const DATA = prng(0xb1d9e).bytes(256 * 1024)
/** The producers' queue. */
export const QUEUE = 'packetfs:jobs:queue'

/** Polls an async condition (a Redis read) until true, or fails after `ms`. */
export async function until(what: string, cond: () => Promise<boolean> | boolean, ms = 30_000): Promise<void> {
  const t0 = Date.now()
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for: ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Starts the fixture; call `stop()` in afterAll and `cleanup()` in afterEach. */
export async function bridgeFixture() {
  const redis: TestRedis = await startRedis()
  const db = createClient({ url: redis.url })
  db.on('error', () => {})
  await db.connect()
  const data = { requests: 0, held: undefined as Array<() => void> | undefined }
  const server: Server = createServer((req, res) => {
    data.requests++
    const answer = () => {
      const [, a, b] = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '') ?? []
      const from = Number(a ?? 0)
      const to = Math.min(Number(b ?? DATA.length - 1), DATA.length - 1)
      res.writeHead(a ? 206 : 200, {
        'content-length': to - from + 1,
        ...(a ? { 'content-range': `bytes ${from}-${to}/${DATA.length}` } : {}),
      })
      res.end(DATA.subarray(from, to + 1))
    }
    if (data.held) data.held.push(answer)
    else answer()
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const dataUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}/data.bin`
  const cleanups: Array<() => Promise<unknown> | unknown> = []

  return {
    redis,
    db,
    data,
    dataUrl,
    /** The original's job JSON: crc32c over 100 bytes of the data host unless `program` says otherwise. */
    job: (id: string, program: Record<string, unknown> = {}) =>
      JSON.stringify({ job_id: id, program: { op: 'crc32c', data_url: dataUrl, length: 100, ...program } }),
    /** Holds the data host's answers until release(). */
    hold() {
      data.held = []
    },
    release() {
      const h = data.held ?? []
      data.held = undefined
      for (const a of h) a()
    },
    /** A started node with no peers; stopped by cleanup(). */
    async node(urlPolicy?: { allowPrivate: boolean }): Promise<NodeKernel> {
      const n = await createNode({ ...TEST_PEER, relays: [], enableWebGPU: false, maxWorkers: 2, urlPolicy })
      await n.start()
      cleanups.push(() => n.stop())
      return n
    },
    /** A RedisBridge on `node` (refusing private data unless `extra` says), not started. */
    bridge(node: NodeKernel, id: string, extra: Partial<RedisBridgeOptions> = {}): RedisBridge {
      const b = new RedisBridge({
        node,
        redisUrl: redis.url,
        bridgeId: id,
        urlPolicy: { allowPrivate: false },
        ...extra,
      })
      cleanups.push(() => b.stop())
      return b
    },
    /** Stops what the last test made, newest first. */
    async cleanup() {
      this.release()
      for (const c of cleanups.splice(0).reverse()) await c()
      await db.flushAll()
      data.requests = 0
    },
    async stop() {
      await this.cleanup()
      await new Promise((r) => server.close(r))
      if (db.isOpen) db.destroy()
      await redis.stop()
    },
  }
}

/** The fixture's type. */
export type BridgeFixture = Awaited<ReturnType<typeof bridgeFixture>>
