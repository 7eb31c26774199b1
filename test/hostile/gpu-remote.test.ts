// Attacks on an executor's GPU through signed WGSL: a plain js-libp2p peer
// serves shader bundles over the code protocol and asks the victim (a Node peer
// with Dawn on SwiftShader) to run them with crafted task params. Bindings that
// are not the declared ones, oversized dispatches and buffers, garbage params,
// tampered or untrusted shaders, shaders the GPU refuses: each is a typed
// error for that task only, and the victim goes on serving an honest peer.
import {
  bundleName,
  CODE_PROTOCOL,
  decodeTaskMessage,
  encodeTaskMessage,
  encodeWgslTask,
  generatePublisherKey,
  importPublisherKey,
  nodeGpuAvailable,
  signBundle,
  TASK_PROTOCOL,
} from 'peercompute'
import { afterEach, describe, expect, it } from 'vitest'
import { TRIPLE_SIGN, TRIPLE_WGSL, tripleCpu, tripleTask, words } from '../integration/fixtures/triple-wgsl.js'
import { waitFor } from '../integration/helpers.js'
import { startAttacker } from './attacker.js'
import { loopbackTcpAddr, serveBundles, startCodeVictim } from './code-victim.js'

const gpu = await nodeGpuAvailable()
if (!gpu && process.env.PEERCOMPUTE_REQUIRE_GPU === '1')
  throw new Error('PEERCOMPUTE_REQUIRE_GPU=1 but no WebGPU adapter (install libvulkan1 and chromium)')

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const utf8 = new TextEncoder()

describe.skipIf(!gpu)('hostile peers and an executor GPU', () => {
  it('mismatched bindings, oversized dispatch or buffers, bad params, untrusted or broken shaders: typed errors, the victim serves on', async () => {
    const { unhandled, pub, key, victim, honest } = await startCodeVictim(cleanups, { enableWebGPU: true })
    expect(victim.capabilities().gpu).toBe(true)
    const addr = loopbackTcpAddr(victim)

    // the bundles the attacker serves
    const good = await signBundle(utf8.encode(TRIPLE_WGSL), TRIPLE_SIGN, key)
    const tampered = good.slice()
    tampered[tampered.length - 5] ^= 1 // a byte of the shader: it no longer matches the signed SHA-256
    const stranger = await importPublisherKey((await generatePublisherKey()).secretKeyPem)
    const untrusted = await signBundle(utf8.encode(TRIPLE_WGSL), TRIPLE_SIGN, stranger)
    const broken = await signBundle(
      utf8.encode('@compute @workgroup_size(1) fn main() { let x: u32 = ; }'),
      TRIPLE_SIGN,
      key,
    )
    // declares binding 1 read-only storage, but the shader has a uniform there: the GPU refuses the bind group
    const lying = await signBundle(
      utf8.encode(TRIPLE_WGSL.replace('var<storage, read> a: array<u32>', 'var<uniform> a: vec4u')),
      TRIPLE_SIGN,
      key,
    )
    const bundles = new Map<string, Uint8Array>()
    const named = async (b: Uint8Array) => {
      const n = await bundleName(b)
      bundles.set(n, b)
      return n
    }
    const [goodN, tamperedN, untrustedN, brokenN, lyingN] = await Promise.all(
      [good, tampered, untrusted, broken, lying].map(named),
    )

    const a = words(64, 1)
    const ok = encodeWgslTask(tripleTask(goodN, a, 2))
    const withParams = (params: unknown, data = ok.data) => ({ params, data })
    const cases: [string, string, { params: unknown; data: Uint8Array }, string][] = [
      [
        'binding missing',
        goodN,
        withParams({ ...ok.params, bindings: ok.params.bindings.slice(1) }, ok.data.subarray(16)),
        'BindingMismatchError',
      ],
      [
        'binding extra',
        goodN,
        withParams({ ...ok.params, bindings: [...ok.params.bindings, { binding: 3, size: 4, length: 0 }] }),
        'BindingMismatchError',
      ],
      [
        'binding twice',
        goodN,
        withParams({ ...ok.params, bindings: [...ok.params.bindings, ok.params.bindings[2]] }),
        'BindingMismatchError',
      ],
      [
        'output elsewhere',
        goodN,
        withParams({ ...ok.params, output: { binding: 7, size: 4 } }),
        'BindingMismatchError',
      ],
      ['dispatch x 65,536', goodN, withParams({ ...ok.params, workgroups: [65_536, 1, 1] }), 'GpuLimitError'],
      ['dispatch 65,535³', goodN, withParams({ ...ok.params, workgroups: [65_535, 65_535, 65_535] }), 'GpuLimitError'],
      [
        'uniform of 1 MiB',
        goodN,
        withParams({
          ...ok.params,
          bindings: [{ ...ok.params.bindings[0], size: 1 << 20 }, ...ok.params.bindings.slice(1)],
        }),
        'GpuLimitError',
      ],
      [
        'buffers of 1 TiB',
        goodN,
        withParams({
          ...ok.params,
          bindings: [...ok.params.bindings.slice(0, 2), { binding: 2, size: 2 ** 40, length: 0 }],
        }),
        'PayloadTooLargeError',
      ],
      ['params garbage', goodN, withParams({ workgroups: 'lots' }), 'ProtocolError'],
      ['input short', goodN, withParams(ok.params, ok.data.subarray(8)), 'ProtocolError'],
      ['tampered shader', tamperedN, ok, 'UntrustedCodeError'],
      ['unknown key', untrustedN, ok, 'UntrustedCodeError'],
      ['shader that does not compile', brokenN, ok, 'GpuValidationError'],
      ['declared kinds that lie', lyingN, ok, 'GpuValidationError'],
    ]

    const atk = await startAttacker()
    cleanups.push(() => atk.stop())
    await atk.node.handle(CODE_PROTOCOL, (stream) => serveBundles(stream, bundles), { runOnLimitedConnection: true })
    const s = await atk.open(addr, TASK_PROTOCOL)
    // the victim's answers, without its keep-alive frames
    const answers = () => s.frames.map((f) => decodeTaskMessage(f)).filter((m) => m.type !== 'alive')
    for (const [i, [what, kernel, t]] of cases.entries()) {
      s.frame(
        encodeTaskMessage({
          type: 'request',
          id: i + 1,
          header: {
            kernel,
            params: t.params as Record<string, unknown>,
            source: { kind: 'inline', length: t.data.length },
            deadlineMs: 30_000,
            prefer: 'gpu',
          },
          data: t.data,
        }),
      )
      await waitFor(`hostile task ${i + 1} (${what}) is answered`, () => answers().length > i)
    }
    const replies = answers()
    for (const [i, [what, , , want]] of cases.entries())
      expect(replies[i], `${what}: ${JSON.stringify(replies[i])}`).toMatchObject({ type: 'error', name: want })
    expect(victim.compute.status().executor.failed).toBe(cases.length)

    // the attacker's own well-formed task runs: the GPU is fine
    s.frame(
      encodeTaskMessage({
        type: 'request',
        id: 99,
        header: {
          kernel: goodN,
          params: ok.params as never,
          source: { kind: 'inline', length: ok.data.length },
          deadlineMs: 30_000,
        },
        data: ok.data,
      }),
    )
    await waitFor('the well-formed task is answered', () => answers().length > cases.length)
    const last = answers()[cases.length]
    expect(last.type).toBe('result')
    if (last.type === 'result') expect(last.data).toEqual(tripleCpu(a, 2))

    // and an honest submitter's signed shader runs on the victim
    const honestName = await honest.publish(good)
    expect(honestName).toBe(goodN)
    await waitFor('the honest peer sees the victim trusts the key and has a GPU', () =>
      honest
        .getStatus()
        .peers.some((p) => p.id === victim.peerId && p.caps.gpu && p.caps.kernels.includes(`signed:${pub.publicKey}`)),
    )
    const b = words(500, 9)
    const res = await honest.submitTask({ id: 'h', type: 'webgpu', ...tripleTask(honestName, b, 4) })
    expect(res).toMatchObject({ success: true, peers: [victim.peerId] })
    expect(res.result).toEqual(tripleCpu(b, 4))
    expect(unhandled.errors).toEqual([])
  }, 90_000)
})
