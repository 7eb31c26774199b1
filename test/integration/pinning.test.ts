import { createServer, type IncomingMessage, type Server } from 'node:http'
import * as kernels from '@peercompute/kernels'
import { prng } from '@peercompute/kernels/testing'
import type { NodeKernel } from 'peercompute'
import { afterEach, describe, expect, it } from 'vitest'
import { loopbackOnly, startNodes, testRelay, waitFor } from './helpers.js'

// Content pinning across the mesh: a URL job reads one version of the file or
// fails with DataSourceError, never a mix of two.

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

/** A Range server on 127.0.0.1 whose content and strong ETag can be replaced; it records each request's If-Match. */
async function versionedServer(size: number) {
  const file = { etag: '"v1"', bytes: prng(41).bytes(size) }
  const ifMatch: Array<string | undefined> = []
  const server: Server = createServer((req: IncomingMessage, res) => {
    ifMatch.push(req.headers['if-match'] as string | undefined)
    const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')
    if (!m) return res.writeHead(400).end()
    if (req.headers['if-match'] && req.headers['if-match'] !== file.etag) return res.writeHead(412).end()
    const [a, b] = [Number(m[1]), Number(m[2])]
    res.writeHead(206, {
      'content-range': `bytes ${a}-${b}/${file.bytes.length}`,
      'content-length': String(b - a + 1),
      etag: file.etag,
    })
    res.end(file.bytes.subarray(a, b + 1))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/blob`
  return { file, url, ifMatch, close: () => new Promise<void>((r) => server.close(() => r())) }
}

async function mesh(n: number): Promise<NodeKernel[]> {
  const r = await testRelay()
  cleanups.push(() => r.stop())
  const nodes = await startNodes(n, r.wsAddr)
  cleanups.push(() => Promise.all(nodes.map((x) => x.stop())))
  await waitFor('every node sees the others', () => nodes.every((x) => x.getStatus().peers.length >= n - 1))
  return nodes
}

describe.skipIf(!loopbackOnly)('content pinning on the mesh', () => {
  it('later pieces are pinned to the version the first accepted piece read; the result is that version', async () => {
    const srv = await versionedServer(8 << 20)
    cleanups.push(srv.close)
    const [sub] = await mesh(3)
    const res = await sub.compute.submit({
      op: 'crc32c',
      data: { url: srv.url, length: srv.file.bytes.length },
      pieceBytes: 1 << 20,
      includeLocal: false,
    }).result
    expect(res.result).toBe(kernels.crc32c(srv.file.bytes))
    expect(srv.ifMatch).toContain('"v1"')
    expect(srv.ifMatch.every((v) => v === undefined || v === '"v1"')).toBe(true)
  })

  it('a file replaced mid-job fails the job with DataSourceError, never a mixed result', async () => {
    const srv = await versionedServer(8 << 20)
    cleanups.push(srv.close)
    const [sub] = await mesh(3)
    const job = sub.compute.submit({
      op: 'crc32c',
      data: { url: srv.url, length: srv.file.bytes.length },
      pieceBytes: 512 << 10,
      includeLocal: false,
    })
    let pieces = 0
    job.addEventListener('piece', () => {
      if (++pieces === 2) {
        srv.file.etag = '"v2"'
        srv.file.bytes = prng(42).bytes(srv.file.bytes.length)
      }
    })
    await expect(job.result).rejects.toMatchObject({ name: 'DataSourceError' })
  })
})
