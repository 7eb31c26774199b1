import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { generatePublisherKey, importPublisherKey, signBundle } from 'peercompute'
import { afterEach, describe, expect, it } from 'vitest'
import { CLI, startNodes, testRelay, waitFor } from './helpers.js'

const SUM = new TextEncoder().encode(
  'export function sum(input, params) {\n  let s = 0\n  for (const b of input) s += b\n  return { sum: s + (params?.add ?? 0) }\n}\n',
)

describe('signed kernels travel to executors that trust their publisher', () => {
  const cleanups: (() => Promise<unknown>)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  it('a published kernel runs on the 2 executors that trust its key; one trusting another key is never used', async () => {
    const r = await testRelay()
    cleanups.push(() => r.stop())
    const publisher = await generatePublisherKey()
    const other = await generatePublisherKey()
    const key = await importPublisherKey(publisher.secretKeyPem)
    const bundle = await signBundle(SUM, { name: 'sum', version: '1.0.0', kind: 'kernel', entry: 'sum' }, key)
    const [submitter] = await startNodes(1, r.wsAddr)
    const trusting = await startNodes(2, r.wsAddr, { trust: [publisher.publicKey] })
    const [stranger] = await startNodes(1, r.wsAddr, { trust: [other.publicKey] })
    cleanups.push(() => Promise.all([submitter, ...trusting, stranger].map((n) => n.stop())))
    const name = await submitter.publish(bundle)
    expect(name).toMatch(/^bundle:[A-Za-z0-9_-]{43}$/)
    await waitFor('the executors advertise their trust', () =>
      [...trusting, stranger].every((t) =>
        submitter
          .getStatus()
          .peers.some((p) => p.id === t.peerId && p.caps.kernels.some((k) => k.startsWith('signed:'))),
      ),
    )
    const data = Uint8Array.from([1, 2, 3, 250])
    const res = await submitter.submitTask({
      id: 't',
      type: 'kernel',
      kernel: name,
      data,
      params: { add: 4 },
      redundancy: 2,
    })
    expect(res).toMatchObject({ success: true, result: { sum: 260 } })
    for (const p of res.peers) expect(trusting.map((t) => t.peerId)).toContain(p)
    // tasks at once spread over both trusting executors; each fetches, verifies and runs the kernel
    const many = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        submitter.submitTask({ id: `m${i}`, type: 'kernel', kernel: name, data, params: { add: i } }),
      ),
    )
    for (const [i, m] of many.entries()) expect(m).toMatchObject({ success: true, result: { sum: 256 + i } })
    for (const t of trusting) expect(t.compute.status().executor.completed).toBeGreaterThan(0)
    expect(stranger.compute.status().executor.completed + stranger.compute.status().executor.refused).toBe(0)
    // the executors now hold it: a second task runs from their caches
    const again = await submitter.submitTask({ id: 't2', type: 'kernel', kernel: name, data, redundancy: 2 })
    expect(again).toMatchObject({ success: true, result: { sum: 256 } })
  })

  it('an executor without trust runs no traveling code, and an unknown name has no eligible peer', async () => {
    const r = await testRelay()
    cleanups.push(() => r.stop())
    const [submitter, plain] = await startNodes(2, r.wsAddr)
    cleanups.push(() => Promise.all([submitter.stop(), plain.stop()]))
    expect(plain.capabilities().kernels.some((k) => k.startsWith('signed:'))).toBe(false)
    const res = await submitter.submitTask({
      id: 'x',
      type: 'kernel',
      kernel: `bundle:${'A'.repeat(43)}`,
      data: Uint8Array.of(1),
    })
    expect(res).toMatchObject({ success: false, error: { name: 'NoEligiblePeerError' } })
    await expect(submitter.publish(Uint8Array.of(1, 2, 3))).rejects.toMatchObject({ name: 'InvalidOptionError' })
  })

  it('map over signed code: 2,000 items on the 2 trusting executors, in order, each batch marked node; the CLI with --code', async () => {
    const r = await testRelay()
    cleanups.push(() => r.stop())
    const publisher = await generatePublisherKey()
    const key = await importPublisherKey(publisher.secretKeyPem)
    const inc = new TextEncoder().encode('export default (x, params) => x + (params?.add ?? 1)\n')
    const bundle = await signBundle(inc, { name: 'inc', version: '1.0.0', kind: 'kernel' }, key)
    const [submitter] = await startNodes(1, r.wsAddr)
    const trusting = await startNodes(2, r.wsAddr, { trust: [publisher.publicKey] })
    cleanups.push(() => Promise.all([submitter, ...trusting].map((n) => n.stop())))
    await waitFor('the executors advertise their trust', () =>
      trusting.every((t) =>
        submitter
          .getStatus()
          .peers.some((p) => p.id === t.peerId && p.caps.kernels.includes(`signed:${publisher.publicKey}`)),
      ),
    )
    expect(() => submitter.compute.map({ kernel: 'crc32c', code: bundle, inputs: [] })).toThrow(TypeError)
    expect(() => submitter.compute.map({ code: `bundle:${'A'.repeat(43)}`, inputs: [] })).toThrow(TypeError)
    const N = 2000
    const job = submitter.compute.map({
      code: bundle,
      inputs: Array.from({ length: N }, (_, i) => i),
      params: { add: 3 },
      batchItems: 100,
      includeLocal: false,
    })
    expect(await job.result).toEqual(Array.from({ length: N }, (_, i) => i + 3))
    expect(new Set(job.batches.map((b) => b.platform))).toEqual(new Set(['node']))
    expect(job.batches.reduce((s, b) => s + b.count, 0)).toBe(N)
    for (const b of job.batches) expect(trusting.map((t) => t.peerId)).toContain(b.peer)
    // by name, once published
    const name = await submitter.publish(bundle)
    expect(await submitter.compute.map({ code: name, inputs: [1, 2] }).result).toEqual([2, 3])

    const dir = mkdtempSync(join(tmpdir(), 'pc-code-map-'))
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }))
    writeFileSync(join(dir, 'inc.bundle'), bundle)
    writeFileSync(join(dir, 'in.jsonl'), `${[5, 6, 7].join('\n')}\n`)
    const args = ['map', '--relay', r.wsAddr, '--loopback', '--no-gpu', '--no-local', '--peers', '2']
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [CLI, ...args, '--code', join(dir, 'inc.bundle'), '--inputs', join(dir, 'in.jsonl')],
      { timeout: 60_000 },
    )
    expect(stdout.trim().split('\n').map(Number)).toEqual([6, 7, 8])
  })
})
