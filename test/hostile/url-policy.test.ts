// SSRF: a peer asks an executor to fetch a URL on the executor's own network.
// A node on default options refuses loopback (in every spelling) without
// opening a connection; a node that opts in (allowPrivate) runs the same job;
// redirects are not followed; the node's own local pieces obey the same policy.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as kernels from '@peercompute/kernels'
import { prng } from '@peercompute/kernels/testing'
import {
  createNode,
  decodeTaskMessage,
  encodeTaskMessage,
  type NodeKernel,
  TASK_PROTOCOL,
  type TaskWireMessage,
} from 'peercompute'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loopbackOnly, startNodes, TEST_PEER, testRelay, waitFor } from '../integration/helpers.js'
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

const DATA = prng(0x551f).bytes(2 * 1024 * 1024)

/** A loopback range server that counts every request it gets; `redirectTo` answers 302 instead. */
async function countingServer(redirectTo?: string): Promise<{ url: string; port: number; requests: () => number }> {
  let n = 0
  const server: Server = createServer((req, res) => {
    n++
    if (redirectTo) return void res.writeHead(302, { location: redirectTo }).end()
    const [, a, b] = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '') ?? []
    const from = Number(a)
    const to = Math.min(Number(b), DATA.length - 1)
    res.writeHead(206, { 'content-range': `bytes ${from}-${to}/${DATA.length}`, 'content-length': to - from + 1 })
    res.end(DATA.subarray(from, to + 1))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  cleanups.push(() => {
    server.closeAllConnections()
    return new Promise((r) => server.close(r))
  })
  const port = (server.address() as AddressInfo).port
  return { url: `http://127.0.0.1:${port}/blob.bin`, port, requests: () => n }
}

/** Every name, class name, message and cause in an error's chain, as one string. */
function chain(err: unknown): string {
  const parts: string[] = []
  for (let e = err as { name?: string; kernelErrorName?: string; message?: string; cause?: unknown } | undefined; e; ) {
    parts.push(`${e.name} ${e.kernelErrorName ?? ''} ${e.message}`)
    e = e.cause as typeof e
  }
  return parts.join(' | ')
}

describe.skipIf(!loopbackOnly)('URL sources from a remote peer: the executor’s own policy', () => {
  async function mesh() {
    const r = await testRelay()
    cleanups.push(() => r.stop())
    // the submitter would allow private URLs itself: only the executor's policy is under test
    const [submitter] = await startNodes(1, r.wsAddr)
    const strict = await startNodes(1, r.wsAddr, { urlPolicy: {}, listen: ['/ip4/127.0.0.1/tcp/0'] })
    const open = await startNodes(1, r.wsAddr)
    const nodes: NodeKernel[] = [submitter, ...strict, ...open]
    cleanups.push(() => Promise.all(nodes.map((x) => x.stop())))
    await waitFor('the submitter is connected to both executors', () =>
      nodes.every((x) => x.getStatus().peers.filter((p) => p.connected).length === 2),
    )
    return { submitter, strict: strict[0], open: open[0] }
  }

  it('a node on default options refuses a loopback URL without connecting; one that allows private runs the same job', async () => {
    const { submitter, strict, open } = await mesh()
    const server = await countingServer()
    const spec = { op: 'crc32c' as const, data: { url: server.url, length: DATA.length }, includeLocal: false }

    const refused = await submitter.compute.submit({ ...spec, peers: [strict.peerId], maxAttempts: 1 }).result.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(refused).toBeInstanceOf(Error)
    expect(chain(refused)).toMatch(/UrlNotAllowedError/)
    expect(server.requests()).toBe(0)
    expect(strict.compute.status().executor.completed).toBe(0)

    const ran = await submitter.compute.submit({ ...spec, peers: [open.peerId], pieceBytes: 512 * 1024 }).result
    expect(ran.result).toBe(kernels.crc32c(DATA))
    expect(new Set(ran.peers)).toEqual(new Set([open.peerId]))
    expect(server.requests()).toBe(ran.pieces.reduce((n, p) => n + p.runs.length, 0))

    // the strict executor still serves honest work
    const inline = await submitter.compute.submit({
      op: 'crc32c',
      data: DATA,
      peers: [strict.peerId],
      includeLocal: false,
    }).result
    expect(inline.result).toBe(kernels.crc32c(DATA))
  })

  it('a redirect from an allowed server is not followed: the second server is never contacted', async () => {
    const { submitter, open } = await mesh()
    const target = await countingServer()
    const hop = await countingServer(target.url)
    await expect(
      submitter.compute.submit({
        op: 'crc32c',
        data: { url: hop.url, length: 1024 },
        peers: [open.peerId],
        includeLocal: false,
        maxAttempts: 1,
      }).result,
      // the executor refuses the 302 (its log says so; the peer hears only the error's name)
    ).rejects.toSatisfy((e: unknown) => /DataSourceError/.test(chain(e)))
    expect(hop.requests()).toBe(1)
    expect(target.requests()).toBe(0)
  })

  it('a raw attacker naming loopback in other spellings gets UrlNotAllowedError for each, and nothing connects', async () => {
    const { strict } = await mesh()
    const server = await countingServer()
    const attacker = await startAttacker()
    cleanups.push(() => attacker.stop())
    const tcp = strict.network.libp2p
      .getMultiaddrs()
      .map(String)
      .find((a) => a.includes('/tcp/') && !a.includes('/ws') && !a.includes('p2p-circuit')) as string
    const s = await attacker.open(tcp, TASK_PROTOCOL)
    const spellings = [
      `http://0x7f.1:${server.port}/x`,
      `http://2130706433:${server.port}/x`,
      `http://[::ffff:127.0.0.1]:${server.port}/x`,
      `http://localhost:${server.port}/x`,
      `http://user:pw@127.0.0.1:${server.port}/x`,
      `file:///etc/passwd`,
      `http://[::1]:${server.port}/x`,
    ]
    spellings.forEach((url, i) => {
      const m: TaskWireMessage = {
        type: 'request',
        id: i + 1,
        header: { kernel: 'crc32c', source: { kind: 'url', url, offset: 0, length: 16 }, deadlineMs: 10_000 },
        data: new Uint8Array(0),
      }
      s.frame(encodeTaskMessage(m))
    })
    await waitFor('an answer to every request', () => s.frames.length >= spellings.length)
    const answers = s.frames.map((f) => decodeTaskMessage(f)).filter((m) => m.type === 'error')
    expect(answers.map((m) => m.id).sort((a, b) => a - b)).toEqual(spellings.map((_, i) => i + 1))
    for (const m of answers) expect(m.type === 'error' && m.name).toBe('UrlNotAllowedError')
    expect(server.requests()).toBe(0)
  })
})

describe('the node’s own local pieces obey the same policy', () => {
  it('a node on default options refuses its own loopback job; with allowPrivate it runs it', async () => {
    const server = await countingServer()
    const strict = await createNode({ ...TEST_PEER, relays: [], enableWebGPU: false, maxWorkers: 1 })
    cleanups.push(() => strict.stop())
    await strict.start()
    const spec = { op: 'counteq' as const, imm: 3, data: { url: server.url, length: DATA.length }, maxAttempts: 1 }
    const refused = await strict.compute.submit(spec).result.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(chain(refused)).toMatch(/UrlNotAllowedError/)
    expect(server.requests()).toBe(0)

    const open = await createNode({
      ...TEST_PEER,
      relays: [],
      enableWebGPU: false,
      maxWorkers: 1,
      urlPolicy: { allowPrivate: true },
    })
    cleanups.push(() => open.stop())
    await open.start()
    const r = await open.compute.submit(spec).result
    expect(r.result).toBe(kernels.counteq(DATA, 3))
    expect(server.requests()).toBeGreaterThan(0)
  })
})
