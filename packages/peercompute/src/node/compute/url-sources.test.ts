import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as kernels from '@peercompute/kernels'
import { afterEach, describe, expect, it } from 'vitest'
import { LocalCompute } from '../../core/compute/local-compute.js'
import type { UrlPolicy } from '../../core/compute/url-policy.js'
import { createWorkerPool } from './node-worker-pool.js'

// The policy travels to the pool's workers at creation and is enforced there:
// the same for a remote peer's task and the node's own local pieces.

const DATA = Uint8Array.from({ length: 64 * 1024 }, (_, i) => (i * 31) & 0xff)
const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function server(): Promise<{ url: string; requests: () => number }> {
  let n = 0
  const s: Server = createServer((req, res) => {
    n++
    const [, a, b] = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '') ?? []
    res.writeHead(206, {
      etag: '"pinned"',
      'content-range': `bytes ${a}-${b}/${DATA.length}`,
      'content-length': Number(b) - Number(a) + 1,
    })
    res.end(DATA.subarray(Number(a), Number(b) + 1))
  })
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))
  cleanups.push(() => new Promise((r) => s.close(r)))
  return { url: `http://127.0.0.1:${(s.address() as AddressInfo).port}/d.bin`, requests: () => n }
}

function local(urlPolicy?: UrlPolicy): LocalCompute {
  const lc = new LocalCompute({ pool: createWorkerPool({ maxWorkers: 1, urlPolicy }), enableWebGPU: false })
  cleanups.push(() => lc.stop())
  return lc
}

describe('URL sources in the worker pool', () => {
  it('a pool on the default policy refuses a loopback range in the worker, with the typed error, and opens no connection', async () => {
    const s = await server()
    const pool = createWorkerPool({ maxWorkers: 1 })
    cleanups.push(() => pool.stop())
    await expect(pool.run('crc32c', { url: s.url, offset: 0, length: 1024 })).rejects.toMatchObject({
      name: 'UrlNotAllowedError',
    })
    await expect(pool.run('crc32c', { url: 'file:///etc/passwd', offset: 0, length: 8 })).rejects.toMatchObject({
      name: 'UrlNotAllowedError',
    })
    expect(s.requests()).toBe(0)
  })

  it('LocalCompute refuses it before the worker hop; with allowPrivate it runs and reports the validator', async () => {
    const s = await server()
    await expect(local().run('crc32c', { url: s.url, offset: 0, length: 1024 })).rejects.toMatchObject({
      name: 'UrlNotAllowedError',
    })
    expect(s.requests()).toBe(0)
    const r = await local({ allowPrivate: true }).run('crc32c', { url: s.url, offset: 100, length: 4000 })
    expect(r).toEqual({
      output: kernels.crc32c(DATA.subarray(100, 4100)),
      substrate: 'cpu',
      validator: { etag: '"pinned"' },
    })
    expect(s.requests()).toBe(1)
  })

  it('an allow-list admits only its origins', async () => {
    const s = await server()
    const other = await server()
    const lc = local({ allowPrivate: true, allowOrigins: [new URL(s.url).origin] })
    expect((await lc.run('counteq', { url: s.url, offset: 0, length: 512 }, { params: { imm: 0 } })).output).toBe(
      kernels.counteq(DATA.subarray(0, 512), 0),
    )
    await expect(lc.run('counteq', { url: other.url, offset: 0, length: 512 })).rejects.toMatchObject({
      name: 'UrlNotAllowedError',
    })
    expect(other.requests()).toBe(0)
  })

  it('a bad policy is a TypeError at creation', () => {
    expect(() => createWorkerPool({ urlPolicy: { allowOrigins: ['ftp://x.example'] } })).toThrow(TypeError)
  })
})
