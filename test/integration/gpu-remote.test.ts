// Signed WGSL on remote GPU peers, between Node peers: GPU peers run Dawn on
// SwiftShader (Debian's chromium ships its Vulkan driver). The submitter has
// no GPU; a peer that trusts the key but has no GPU is never chosen.
import * as kernels from '@peercompute/kernels'
import { generatePublisherKey, importPublisherKey, type NodeKernel, nodeGpuAvailable, signBundle } from 'peercompute'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TRIPLE_SIGN, TRIPLE_WGSL, tripleCpu, tripleTask, words } from './fixtures/triple-wgsl.js'
import { startNodes, testRelay, waitFor } from './helpers.js'

const gpu = await nodeGpuAvailable()
if (!gpu && process.env.PEERCOMPUTE_REQUIRE_GPU === '1')
  throw new Error('PEERCOMPUTE_REQUIRE_GPU=1 but no WebGPU adapter (install libvulkan1 and chromium)')

describe.skipIf(!gpu)('signed WGSL on remote GPU peers', () => {
  const cleanups: (() => Promise<unknown>)[] = []
  let submitter: NodeKernel
  let gpuPeers: NodeKernel[]
  let noGpu: NodeKernel
  let name: string
  let lie = false

  beforeAll(async () => {
    const r = await testRelay()
    cleanups.push(() => r.stop())
    const pub = await generatePublisherKey()
    const key = await importPublisherKey(pub.secretKeyPem)
    ;[submitter] = await startNodes(1, r.wsAddr)
    gpuPeers = await Promise.all([
      startNodes(1, r.wsAddr, { trust: [pub.publicKey], enableWebGPU: true }),
      // the second GPU peer lies on demand: a result one word short
      startNodes(1, r.wsAddr, {
        trust: [pub.publicKey],
        enableWebGPU: true,
        tamper: (_k, out) => (lie && out instanceof Uint8Array ? out.subarray(4) : out),
      }),
    ]).then((n) => n.flat())
    ;[noGpu] = await startNodes(1, r.wsAddr, { trust: [pub.publicKey], enableWebGPU: false })
    cleanups.push(() => Promise.all([submitter, ...gpuPeers, noGpu].map((n) => n.stop())))
    name = await submitter.publish(await signBundle(new TextEncoder().encode(TRIPLE_WGSL), TRIPLE_SIGN, key))
    expect(noGpu.capabilities().gpu).toBe(false)
    for (const g of gpuPeers) expect(g.capabilities().gpu).toBe(true)
    await waitFor('the submitter sees every executor and its trust', () =>
      [...gpuPeers, noGpu].every((t) =>
        submitter
          .getStatus()
          .peers.some((p) => p.id === t.peerId && p.caps.kernels.some((k) => k.startsWith('signed:'))),
      ),
    )
  }, 60_000)
  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  it('runs on the GPU peers only and equals the CPU result, over many tasks', async () => {
    const runs = await Promise.all(
      Array.from({ length: 12 }, (_, i) => {
        const a = words(1 + i * 37, i)
        return submitter
          .submitTask({ id: `t${i}`, type: 'webgpu', ...tripleTask(name, a, i) })
          .then((res) => ({ res, want: tripleCpu(a, i) }))
      }),
    )
    const gpuIds = gpuPeers.map((g) => g.peerId)
    for (const { res, want } of runs) {
      expect(res.error).toBeUndefined()
      expect(res.success).toBe(true)
      expect(res.result).toEqual(want)
      for (const piece of res.pieces) {
        expect(gpuIds).toContain(piece.peer)
        expect(piece.substrate).toBe('node:webgpu')
        for (const run of piece.runs) expect(gpuIds).toContain(run.peer)
      }
    }
    const s = noGpu.compute.status().executor
    expect(s.completed + s.failed + s.refused).toBe(0)
  }, 60_000)

  it('redundancy 2 runs on both GPU peers and they agree', async () => {
    const a = words(1000, 7)
    const res = await submitter.submitTask({ id: 'r', type: 'webgpu', ...tripleTask(name, a, 5), redundancy: 2 })
    expect(res).toMatchObject({ success: true })
    expect(res.result).toEqual(tripleCpu(a, 5))
    expect(new Set(res.pieces[0].runs.filter((r) => r.ok).map((r) => r.peer))).toEqual(
      new Set(gpuPeers.map((g) => g.peerId)),
    )
  }, 60_000)

  it('a result of the wrong size is a lie: the piece fails over to the honest GPU peer', async () => {
    const [honest, liar] = gpuPeers
    lie = true
    try {
      const a = words(300, 3)
      // only the liar first: its result is refused at the submitter, so the job has no one left
      const alone = await submitter.submitTask({
        id: 'l1',
        type: 'webgpu',
        ...tripleTask(name, a, 1),
        peers: [liar.peerId],
      })
      expect(alone.success).toBe(false)
      const res = await submitter.submitTask({
        id: 'l2',
        type: 'webgpu',
        ...tripleTask(name, a, 1),
        peers: [liar.peerId, honest.peerId],
        policy: 'least-loaded',
      })
      expect(res).toMatchObject({ success: true, peers: [honest.peerId] })
      expect(res.result).toEqual(tripleCpu(a, 1))
    } finally {
      lie = false
    }
  }, 60_000)

  it('a built-in with requirements.gpu runs on the GPU peers, on WebGPU, and equals the CPU kernel', async () => {
    const data = Uint8Array.from({ length: 3 << 20 }, (_, i) => (i * 7) & 0xff)
    const res = await submitter.submit({ op: 'add', data, imm: 9, pieceBytes: 1 << 20, requirements: { gpu: true } })
      .result
    expect(Buffer.compare(res.result as Uint8Array, kernels.add(data, 9))).toBe(0)
    for (const p of res.pieces) {
      expect(gpuPeers.map((g) => g.peerId)).toContain(p.peer)
      expect(p.substrate).toBe('node:webgpu')
    }
  }, 60_000)

  it('a task that does not fit the shader fails at the submitter before it leaves', async () => {
    const t = tripleTask(name, words(8, 1), 0)
    const res = await submitter.submitTask({ id: 'm', type: 'webgpu', ...t, bindings: t.bindings.slice(1) })
    expect(res).toMatchObject({ success: false, error: { name: 'BindingMismatchError' } })
  })
})
