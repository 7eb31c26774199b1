import * as kernels from '@peercompute/kernels'
import { prng } from '@peercompute/kernels/testing'
import type { NodeKernel } from 'peercompute'
import { afterEach, describe, expect, it } from 'vitest'
import { startNodes, testRelay, waitFor } from './helpers.js'

// Map jobs between real nodes: a submitter that runs nothing itself, two
// peers that run the items' kernel; results must equal a local run, in order.

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function mesh(n: number): Promise<NodeKernel[]> {
  const r = await testRelay()
  cleanups.push(() => r.stop())
  const nodes = await startNodes(n, r.wsAddr)
  cleanups.push(() => Promise.all(nodes.map((x) => x.stop())))
  await waitFor(
    'every node is connected to the others',
    () => nodes.every((x) => x.getStatus().peers.filter((p) => p.connected).length === n - 1),
    20_000,
  )
  return nodes
}

describe('map jobs between Node peers', () => {
  it('10,000 items of a registered kernel across 2 peers: results equal a local run, in order', async () => {
    const [submitter, ...workers] = await mesh(3)
    const inc = new URL('./fixtures/inc-kernel.mjs', import.meta.url).href
    for (const w of workers) w.registerKernel('inc', inc)
    await waitFor('both peers advertise the kernel', () =>
      workers.every((w) =>
        submitter.getStatus().peers.some((p) => p.id === w.peerId && p.caps.kernels.includes('inc')),
      ),
    )
    const inputs = Array.from({ length: 10_000 }, (_, i) => i * 3)
    const job = submitter.compute.map({ kernel: 'inc', inputs, params: { add: 1 }, includeLocal: false })
    const seen: unknown[] = []
    for await (const v of job) seen.push(v)
    const want = inputs.map((x) => x + 2)
    expect(seen).toEqual(want)
    expect(await job.result).toEqual(want)
    const peers = new Set(job.batches.map((b) => b.peer))
    expect(peers).toEqual(new Set(workers.map((w) => w.peerId)))
    expect(job.batches.reduce((s, b) => s + b.count, 0)).toBe(10_000)
  })

  it('a built-in over byte items, with redundancy 2: each result is the op over its item', async () => {
    const [submitter] = await mesh(3)
    const r = prng(0x3a8)
    const items = Array.from({ length: 2000 }, () => r.bytes(r.int(64)))
    const job = submitter.compute.map({ kernel: 'crc32c', inputs: items, redundancy: 2, includeLocal: false })
    expect(await job.result).toEqual(items.map((x) => kernels.crc32c(x)))
    expect(job.batches.every((b) => b.attempts >= 2)).toBe(true)
  })
})
