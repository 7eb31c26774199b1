import { type ChildProcess, execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import * as kernels from '@peercompute/kernels'
import { prng } from '@peercompute/kernels/testing'
import { createNode, encodeFrame, encodeTaskMessage, type NodeKernel, OPS, runOp, TASK_PROTOCOL } from 'peercompute'
import { afterEach, describe, expect, it } from 'vitest'
import { CLI, loopbackOnly, startNodes, startWorkerProcess, TEST_PEER, testRelay, waitFor } from './helpers.js'

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function mesh(n: number, extra = {}) {
  const r = await testRelay()
  cleanups.push(() => r.stop())
  const nodes = await startNodes(n, r.wsAddr, extra)
  cleanups.push(() => Promise.all(nodes.map((x) => x.stop())))
  await waitFor(
    'every node is connected to the others',
    () => nodes.every((x) => x.getStatus().peers.filter((p) => p.connected).length === n - 1),
    20_000,
  )
  return { relay: r, nodes }
}

function bytes(n: number, seed: number): Uint8Array {
  return prng(seed).bytes(n)
}

/** Serves `data` over loopback HTTP; `range: false` ignores Range headers (answers 200 with everything). */
async function serve(data: Uint8Array, opts: { range?: boolean; lie?: boolean } = {}): Promise<string> {
  const server: Server = createServer((req, res) => {
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')
    if (!m || opts.range === false) {
      res.writeHead(200, { 'content-length': data.length })
      res.end(data)
      return
    }
    const a = Number(m[1])
    const b = Math.min(Number(m[2]), data.length - 1)
    const cr = opts.lie ? `bytes ${a + 1}-${b + 1}/${data.length}` : `bytes ${a}-${b}/${data.length}`
    res.writeHead(206, { 'content-range': cr, 'content-length': b - a + 1 })
    res.end(data.subarray(a, b + 1))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  cleanups.push(() => new Promise((r) => server.close(() => r(undefined))))
  const port = (server.address() as { port: number }).port
  return `http://127.0.0.1:${port}/blob.bin`
}

describe('a node on its own', () => {
  it('refuses unbuilt options and bad input with typed errors', async () => {
    await expect(createNode({ relays: [], enablePhysics: true })).rejects.toMatchObject({
      name: 'UnsupportedOptionError',
    })
    await expect(createNode({ relays: [], enableInput: true })).rejects.toMatchObject({
      name: 'UnsupportedOptionError',
    })
    await expect(createNode({ relays: [], topology: 'ring' as never })).rejects.toThrow(/topology/)
    await expect(createNode({ relays: [], storageMode: 'disk' as never })).rejects.toThrow(/storageMode/)
    await expect(createNode({ relays: [], limits: { maxTasks: -1 } })).rejects.toMatchObject({
      name: 'InvalidOptionError',
      message: 'limits.maxTasks must be a positive number',
    })
  })

  it('runs a job locally with no peers, and reports it', async () => {
    const node = await createNode({ ...TEST_PEER, relays: [], enableWebGPU: false, maxWorkers: 1 })
    cleanups.push(() => node.stop())
    await node.start()
    const data = bytes(3 * 1024 * 1024 + 17, 1)
    const job = node.compute.submit({ op: 'crc32c', data, pieceBytes: 1024 * 1024 })
    const progress: number[] = []
    job.addEventListener('progress', (e) => progress.push(e.detail.bytesDone))
    const r = await job.result
    expect(r.result).toBe(kernels.crc32c(data))
    expect(r.pieces).toHaveLength(4)
    expect(r.substrate).toBe('local')
    expect(progress.at(-1)).toBe(data.length)
    const st = node.getStatus()
    expect(st.storageMode).toBe('memory')
    expect(st.tasks.metrics.ok).toBe(4)
    expect(node.compute.metrics({ limit: 2 })).toHaveLength(2)
  })
})

describe.skipIf(!loopbackOnly)('jobs on the mesh (real relay and nodes)', () => {
  it('splits a job across peers; every op equals the single-process kernel; the relay shows the metrics', async () => {
    const { nodes, relay } = await mesh(3)
    const [submitter] = nodes
    const data = bytes(24 * 1024 * 1024 + 5, 2)
    for (const op of OPS) {
      const job = submitter.compute.submit({ op, data, imm: 7, pieceBytes: 2 * 1024 * 1024, policy: 'least-loaded' })
      const r = await job.result
      const want = runOp(op, data, { imm: 7 })
      if (want instanceof Uint8Array) expect(Buffer.compare(r.result as Uint8Array, want)).toBe(0)
      else expect(r.result).toBe(want)
      if (op !== 'fnv64') expect(new Set(r.peers).size, JSON.stringify(r.pieces.map((p) => p.runs))).toBeGreaterThan(1)
      expect(r.pieces.reduce((s, p) => s + p.length, 0)).toBe(data.length)
    }
    const ok = submitter.getStatus().tasks.metrics.ok
    expect(ok).toBeGreaterThanOrEqual(5 * 12)
    const published = async () => {
      const res = await fetch(`${relay.relay.httpUrl}/api/peers`, {
        headers: { authorization: `Bearer ${relay.relay.token}` },
      })
      const { peers } = (await res.json()) as { peers: Array<{ id: string; load: { metrics?: { ok: number } } }> }
      return peers.find((p) => p.id === submitter.peerId)?.load.metrics?.ok
    }
    let seen: number | undefined
    for (let i = 0; i < 100 && seen !== ok; i++) {
      seen = await published()
      if (seen !== ok) await new Promise((res) => setTimeout(res, 100))
    }
    expect(seen).toBe(ok)
  })

  it('fetches URL ranges on the executors; a server that ignores Range is a DataSourceError', async () => {
    const { nodes } = await mesh(2)
    const data = bytes(10 * 1024 * 1024, 3)
    const url = await serve(data)
    const r = await nodes[0].compute.submit({
      op: 'counteq',
      data: { url, offset: 5, length: data.length - 9 },
      imm: 9,
      pieceBytes: 1024 * 1024,
    }).result
    expect(r.result).toBe(kernels.counteq(data.subarray(5, data.length - 4), 9))
    expect(new Set(r.peers).size).toBe(2)
    const noRange = await serve(data, { range: false })
    // a remote executor's failure carries no detail of its network: a fixed message for the error's name
    const remote = await nodes[0].compute
      .submit({ op: 'crc32c', data: { url: noRange, length: 1024 * 1024 }, includeLocal: false })
      .result.catch((e: Error) => e)
    expect(remote).toMatchObject({
      name: 'DataSourceError',
      message: expect.stringMatching(/the data source could not be read/),
    })
    expect((remote as Error).message).not.toMatch(/127\.0\.0\.1|Range|HTTP/)
    const liar = await serve(data, { lie: true })
    await expect(
      nodes[0].compute.submit({ op: 'crc32c', data: { url: liar, length: 1024 * 1024 } }).result,
    ).rejects.toMatchObject({ name: 'DataSourceError', message: expect.stringMatching(/Content-Range/) })
  })

  it('catches a lying peer with redundancy 2; the result is right and the liar reported', async () => {
    const r = await testRelay()
    cleanups.push(() => r.stop())
    const honest = await startNodes(2, r.wsAddr)
    const liars = await startNodes(1, r.wsAddr, {
      tamper: (_k: string, out: unknown) => (typeof out === 'number' ? (out + 1) >>> 0 : out),
    })
    const nodes: NodeKernel[] = [...honest, ...liars]
    cleanups.push(() => Promise.all(nodes.map((x) => x.stop())))
    await waitFor('peers connected', () =>
      nodes.every((x) => x.getStatus().peers.filter((p) => p.connected).length === 2),
    )
    const data = bytes(8 * 1024 * 1024, 4)
    const job = honest[0].compute.submit({ op: 'crc32c', data, redundancy: 2, pieceBytes: 1024 * 1024 })
    const res = await job.result
    expect(res.result).toBe(kernels.crc32c(data))
    expect(res.liars).toEqual([liars[0].peerId])
    expect(honest[0].getStatus().tasks.metrics.liars).toContain(liars[0].peerId)
    const outvoted = honest[0].compute
      .metrics()
      .filter((m) => m.peer === liars[0].peerId && m.error === 'ResultMismatch')
    expect(outvoted.length).toBeGreaterThan(0)
    expect(outvoted.every((m) => !m.ok)).toBe(true)
  })

  it('cancelling a job stops the remote work (the executor drops its fetch)', async () => {
    const { nodes } = await mesh(2)
    let open = 0
    let closed = 0
    // a server that starts every range and then stalls: the work only ends when the executor gives up
    const server = createServer((req, res) => {
      open++
      res.on('close', () => closed++)
      const [, a, b] = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '') ?? ['', '0', '0']
      const n = Number(b) - Number(a) + 1
      res.writeHead(206, { 'content-range': `bytes ${a}-${b}/${1024 * 1024}`, 'content-length': n })
      res.write(new Uint8Array(64 * 1024))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    cleanups.push(() => {
      server.closeAllConnections()
      return new Promise((r) => server.close(() => r(undefined)))
    })
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/slow.bin`
    const ac = new AbortController()
    const job = nodes[0].compute.submit({
      op: 'counteq',
      data: { url, length: 1024 * 1024 },
      includeLocal: false,
      signal: ac.signal,
    })
    await waitFor('the executor started fetching', () => open >= 1 && nodes[1].compute.status().executor.running >= 1)
    ac.abort()
    await expect(job.result).rejects.toMatchObject({ name: 'AbortError' })
    await waitFor('the executor saw the cancel', () => nodes[1].compute.status().executor.cancelled >= 1, 10_000)
    await waitFor('the executor dropped its fetch', () => closed === open, 10_000)
    await waitFor('nothing runs there any more', () => nodes[1].compute.status().executor.running === 0, 10_000)
    expect(nodes[1].compute.status().executor.completed).toBe(0)
  })

  it('a worker SIGKILLed mid-job: its pieces are placed again and the result is right', async () => {
    const r = await testRelay()
    cleanups.push(() => r.stop())
    const workers: Array<{ proc: ChildProcess; id: string }> = []
    for (let i = 0; i < 3; i++) {
      const w = await startWorkerProcess(r.wsAddr)
      cleanups.push(() => {
        if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGKILL')
      })
      workers.push(w)
    }
    const [submitter] = await startNodes(1, r.wsAddr)
    cleanups.push(() => submitter.stop())
    await waitFor(
      'the submitter is connected to every worker',
      () => submitter.getStatus().peers.filter((p) => p.connected).length === 3,
    )
    const data = bytes(48 * 1024 * 1024, 6)
    const url = await serve(data)
    const victim = workers[1]
    const job = submitter.compute.submit({
      op: 'crc32c',
      data: { url, length: data.length },
      pieceBytes: 2 * 1024 * 1024,
      includeLocal: false,
    })
    let killed = false
    job.addEventListener('piece', (e) => {
      if (!killed && e.detail.peer === victim.id) {
        killed = true
        victim.proc.kill('SIGKILL')
      }
    })
    const res = await job.result
    expect(killed).toBe(true)
    expect(res.result).toBe(kernels.crc32c(data))
    const lost = res.pieces.filter((p) => p.runs.some((run) => run.peer === victim.id && !run.ok))
    expect(lost.length).toBeGreaterThan(0)
    for (const p of lost) expect(p.peer).not.toBe(victim.id)
    expect(res.replaced).toBeGreaterThanOrEqual(lost.length)
  })

  it('malformed and oversized task frames get typed errors; the executor serves others on', async () => {
    const { nodes } = await mesh(3)
    const [bad, executor, good] = nodes
    const stream = await bad.network.dialProtocol(executor.peerId, TASK_PROTOCOL)
    const replies: Uint8Array[] = []
    stream.addEventListener('message', (e) => replies.push(e.data.subarray()))
    const text = () => new TextDecoder().decode(Buffer.concat(replies))
    // an unknown message type, then a request whose header is not JSON, then a request too big to take
    stream.send(encodeFrame(Uint8Array.of(99, 1)))
    stream.send(encodeFrame(Uint8Array.of(1, 2, 3, 0x7b, 0x78, 0x7d)))
    stream.send(
      encodeFrame(
        encodeTaskMessage({
          type: 'request',
          id: 3,
          header: { kernel: 'crc32c', source: { kind: 'inline', length: 2 ** 30 }, deadlineMs: 1000 },
          data: new Uint8Array(0),
        }),
      ),
    )
    stream.send(
      encodeFrame(
        encodeTaskMessage({
          type: 'request',
          id: 4,
          header: { kernel: 'no-such-kernel', source: { kind: 'inline', length: 0 }, deadlineMs: 1000 },
          data: new Uint8Array(0),
        }),
      ),
    )
    // declared but never sent: 40 MiB each, past the 256 MiB per-peer budget on the 7th
    for (let id = 10; id < 17; id++)
      stream.send(
        encodeFrame(
          encodeTaskMessage({
            type: 'request',
            id,
            header: { kernel: 'crc32c', source: { kind: 'inline', length: 40 << 20 }, deadlineMs: 60_000 },
            data: new Uint8Array(0),
          }),
        ),
      )
    await waitFor('five typed errors', () => (text().match(/Error/g) ?? []).length >= 5, 10_000)
    expect(text()).toMatch(/RateLimitedError.*input bytes in flight exceed 268435456/s)
    expect(text()).toMatch(/ProtocolError.*unknown task message type 99/s)
    expect(text()).toMatch(/ProtocolError.*request header/s)
    expect(text()).toMatch(/PayloadTooLargeError/)
    expect(text()).toMatch(/KernelNotFoundError/)
    // a length prefix past the frame limit: the stream cannot be resynchronised, so it is closed after an error
    stream.send(Uint8Array.of(0xff, 0xff, 0xff, 0x7f))
    await waitFor(
      'the executor closed the broken stream',
      () => stream.readStatus === 'closed' || stream.status !== 'open',
      10_000,
    )
    expect(text()).toMatch(/exceeds the limit/)
    const data = bytes(4 * 1024 * 1024, 7)
    const ok = await good.compute.submit({ op: 'crc32c', data, includeLocal: false, pieceBytes: 1024 * 1024 }).result
    expect(ok.result).toBe(kernels.crc32c(data))
    expect(ok.peers).toContain(executor.peerId)
    expect(executor.compute.status().executor.refused).toBeGreaterThanOrEqual(4)
  })

  it('submitTask runs built-in and registered kernels on the mesh; a peer without the kernel is never asked', async () => {
    const r = await testRelay()
    cleanups.push(() => r.stop())
    const [plain] = await startNodes(1, r.wsAddr)
    const owner = await createNode({ ...TEST_PEER, relays: [r.wsAddr], enableWebGPU: false, maxWorkers: 1 })
    await owner.start()
    cleanups.push(() => Promise.all([plain.stop(), owner.stop()]))
    await waitFor('connected', () => plain.getStatus().peers.some((p) => p.id === owner.peerId && p.connected))
    // registered after start: the relay hears of it and tells the others
    owner.registerKernel('sum', new URL('./fixtures/sum-kernel.mjs', import.meta.url).href)
    await waitFor('the kernel is known', () =>
      plain.getStatus().peers.some((p) => p.id === owner.peerId && p.caps.kernels.includes('sum')),
    )
    const data = Uint8Array.from([1, 2, 3, 250])
    const custom = await plain.submitTask({ id: 't-sum', type: 'kernel', kernel: 'sum', data, params: { add: 4 } })
    expect(custom).toMatchObject({ id: 't-sum', success: true, result: { sum: 260 }, peers: [owner.peerId] })
    const builtin = await plain.submitTask({ id: 't-crc', type: 'kernel', kernel: 'crc32c', data })
    expect(builtin).toMatchObject({ id: 't-crc', success: true, result: kernels.crc32c(data) })
    const missing = await plain.submitTask({ id: 't-none', type: 'kernel', kernel: 'nope', data })
    expect(missing).toMatchObject({ success: false, error: { name: 'NoEligiblePeerError' } })
    expect(owner.compute.status().executor.refused).toBe(0)
  })

  it('peercompute submit runs a file on the mesh and prints the result with its pieces', async () => {
    const { nodes, relay } = await mesh(1)
    const dir = mkdtempSync(join(tmpdir(), 'pc-submit-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const file = join(dir, 'data.bin')
    const data = bytes(3 * 1024 * 1024 + 1, 8)
    writeFileSync(file, data)
    const args = ['submit', '--relay', relay.wsAddr, '--loopback', '--op', 'crc32c', '--file', file, '--no-local']
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, ...args, '--json', '--no-gpu'], {
      timeout: 60_000,
    })
    const r = JSON.parse(stdout)
    expect(r.result).toBe(kernels.crc32c(data))
    expect(r.peers).toEqual([nodes[0].peerId])
    expect(r.pieces.reduce((n: number, p: { length: number }) => n + p.length, 0)).toBe(data.length)
    const table = await promisify(execFile)(process.execPath, [CLI, ...args, '--no-gpu'], { timeout: 60_000 })
    expect(table.stdout).toMatch(new RegExp(`crc32c = 0x${kernels.crc32c(data).toString(16).padStart(8, '0')}`))
    expect(table.stdout).toMatch(/piece\s+offset\s+length\s+peer/)
  })
})
