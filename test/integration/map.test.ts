import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import * as kernels from '@peercompute/kernels'
import { prng } from '@peercompute/kernels/testing'
import type { NodeKernel } from 'peercompute'
import { afterEach, describe, expect, it } from 'vitest'
import { CLI, startNodes, startWorkerProcess, testRelay, waitFor } from './helpers.js'

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
    // least-loaded spreads batches by what is in flight, so both peers surely take some
    const job = submitter.compute.map({
      kernel: 'inc',
      inputs,
      params: { add: 1 },
      includeLocal: false,
      policy: 'least-loaded',
    })
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

  it('peercompute map prints the results of a JSON-lines file in input order', async () => {
    const r = await testRelay()
    cleanups.push(() => r.stop())
    const [worker] = await startNodes(1, r.wsAddr)
    cleanups.push(() => worker.stop())
    const dir = mkdtempSync(join(tmpdir(), 'pc-map-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const items = Array.from({ length: 500 }, (_, i) => `item ${i} ${'x'.repeat(i % 17)}`)
    const file = join(dir, 'inputs.jsonl')
    writeFileSync(file, `${items.map((x) => JSON.stringify(x)).join('\n')}\n`)
    const args = ['map', '--relay', r.wsAddr, '--loopback', '--kernel', 'crc32c', '--inputs', file, '--no-local']
    const { stdout } = await promisify(execFile)(process.execPath, [CLI, ...args, '--no-gpu'], { timeout: 60_000 })
    const lines = stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(lines).toEqual(items.map((x) => kernels.crc32c(new TextEncoder().encode(x))))
  })

  it('a worker SIGKILLed mid-job: its batches are placed again and every result is right, in order', async () => {
    const r = await testRelay()
    cleanups.push(() => r.stop())
    const workers = [await startWorkerProcess(r.wsAddr), await startWorkerProcess(r.wsAddr)]
    for (const w of workers)
      cleanups.push(() => {
        if (w.proc.exitCode === null && w.proc.signalCode === null) w.proc.kill('SIGKILL')
      })
    const [submitter] = await startNodes(1, r.wsAddr)
    cleanups.push(() => submitter.stop())
    await waitFor('the submitter is connected to both workers', () =>
      workers.every((w) => submitter.getStatus().peers.some((p) => p.id === w.id && p.connected)),
    )
    const rnd = prng(0x3ab)
    const items = Array.from({ length: 10_000 }, () => rnd.bytes(1 + rnd.int(256)))
    const victim = workers[0]
    let killed!: () => void
    const afterKill = new Promise<void>((ok) => {
      killed = ok
    })
    async function* source() {
      for (let i = 0; i < items.length; i++) {
        if (i === items.length / 2) await afterKill // the second half only once the victim is gone
        yield items[i]
      }
    }
    const job = submitter.compute.map({ kernel: 'crc32c', inputs: source(), batchItems: 50, includeLocal: false })
    const seen: unknown[] = []
    const reading = (async () => {
      for await (const v of job) seen.push(v)
    })()
    await waitFor('the victim finished a batch', () => job.batches.some((b) => b.peer === victim.id))
    victim.proc.kill('SIGKILL')
    killed()
    await reading
    expect(seen).toEqual(items.map((x) => kernels.crc32c(x)))
    const late = job.batches.filter((b) => b.first >= items.length / 2)
    expect(late.every((b) => b.peer === workers[1].id)).toBe(true)
  })
})
