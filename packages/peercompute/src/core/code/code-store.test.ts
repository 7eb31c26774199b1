import { describe, expect, it } from 'vitest'
import type { WgslTask } from '../compute/gpu/gpu-executor.js'
import { encodeWgslTask } from '../compute/gpu/remote-wgsl.js'
import { BindingMismatchError, GpuUnavailableError, KernelNotFoundError, UntrustedCodeError } from '../errors.js'
import { decodeBundle, encodeBundle } from './bundle-format.js'
import { bundleName } from './bundle-name.js'
import { type CodePool, CodeStore } from './code-store.js'
import { generatePublisherKey, importPublisherKey } from './keys.js'
import { type SignInit, signBundle } from './sign.js'

const CODE = new TextEncoder().encode('export default (x) => x\n')

/** A pool that records registrations and runs nothing. */
function pool(): CodePool & { registered: string[] } {
  const registered: string[] = []
  return {
    registered,
    registerKernel: (name) => registered.push(name),
    unregisterKernel: () => {},
    run: async () => 'ran' as never,
    stop: async () => {},
  }
}

describe('CodeStore refuses what does not verify before the pool sees it', () => {
  it('tampered code, tampered manifest, unknown key, expired, malformed signature: UntrustedCodeError', async () => {
    const pub = await generatePublisherKey()
    const key = await importPublisherKey(pub.secretKeyPem)
    const good = await signBundle(CODE, { name: 'k', version: '1', kind: 'kernel' }, key)
    const stranger = await signBundle(
      CODE,
      { name: 'k', version: '1', kind: 'kernel' },
      await importPublisherKey((await generatePublisherKey()).secretKeyPem),
    )
    const expired = await signBundle(CODE, { name: 'k', version: '1', kind: 'kernel', expires: new Date(1000) }, key)
    const codeByte = good.slice()
    codeByte[codeByte.length - 2] ^= 1
    const parts = decodeBundle(good)
    const manifest = encodeBundle({ ...parts, manifest: { ...parts.manifest, version: '2' } })
    const badSig = encodeBundle({ ...parts, signature: new Uint8Array(64).fill(7) })
    const cases: [string, Uint8Array][] = [
      ['code-mismatch', codeByte],
      ['bad-signature', manifest],
      ['unknown-key', stranger],
      ['expired', expired],
      ['bad-signature', badSig],
    ]
    for (const [reason, bytes] of cases) {
      const p = pool()
      const store = new CodeStore({
        trust: [pub.publicKey],
        pool: p,
        dial: async () => {
          throw new Error('no fetch expected')
        },
        own: () => bytes,
      })
      const err = await store.run(await bundleName(bytes), 'peer', Uint8Array.of(1), {}).catch((e) => e)
      expect(err, reason).toBeInstanceOf(UntrustedCodeError)
      expect((err as UntrustedCodeError).reason, reason).toBe(reason)
      expect(p.registered).toEqual([])
    }
    const p = pool()
    const ok = new CodeStore({ trust: [pub.publicKey], pool: p, dial: async () => Promise.reject(), own: () => good })
    const name = await bundleName(good)
    expect(await ok.run(name, 'peer', Uint8Array.of(1), {})).toEqual({ output: 'ran', substrate: 'cpu' })
    expect(p.registered).toEqual([name])
    expect(ok.stats()).toMatchObject({ entries: 1, bytes: CODE.length })
    // bytes that do not hash to the name they were asked for are not that code
    const wrong = new CodeStore({
      trust: [pub.publicKey],
      pool: pool(),
      dial: async () => Promise.reject(),
      own: () => good,
    })
    await expect(wrong.run(`bundle:${'A'.repeat(43)}`, 'peer', Uint8Array.of(1), {})).rejects.toMatchObject({
      name: 'UntrustedCodeError',
      reason: 'code-mismatch',
    })
  })
})

describe('CodeStore runs WGSL bundles on the GPU it is given', () => {
  const SHADER =
    '@group(0) @binding(0) var<storage, read_write> d: array<u32>;\n@compute @workgroup_size(1) fn run() { d[0] = 7u; }\n'

  it('a verified shader goes to the GPU as a checked task, never to the pool; a task that does not fit never reaches the GPU', async () => {
    const pub = await generatePublisherKey()
    const key = await importPublisherKey(pub.secretKeyPem)
    const init = {
      name: 's',
      version: '1',
      kind: 'wgsl',
      entry: 'run',
      bindings: [{ binding: 0, kind: 'storage' as const }],
    } satisfies SignInit
    const bundle = await signBundle(new TextEncoder().encode(SHADER), init, key)
    const name = await bundleName(bundle)
    const p = pool()
    const seen: WgslTask[] = []
    const store = new CodeStore({
      trust: [pub.publicKey],
      pool: p,
      gpu: async (task) => {
        seen.push(task)
        return Uint8Array.of(7, 0, 0, 0)
      },
      dial: async () => Promise.reject(),
      own: () => bundle,
    })
    const ok = encodeWgslTask({
      code: name,
      workgroups: [1],
      bindings: [{ binding: 0, size: 4 }],
      output: { binding: 0, size: 4 },
    })
    expect(await store.run(name, 'peer', ok.data, { params: ok.params })).toEqual({
      output: Uint8Array.of(7, 0, 0, 0),
      substrate: 'webgpu',
    })
    expect(seen).toHaveLength(1)
    expect(seen[0]).toMatchObject({
      shader: SHADER,
      entryPoint: 'run',
      bindings: [{ binding: 0, kind: 'storage', size: 4 }],
    })
    expect(p.registered).toEqual([])
    const bad = encodeWgslTask({
      code: name,
      workgroups: [1],
      bindings: [{ binding: 1, size: 4 }],
      output: { binding: 1, size: 4 },
    })
    await expect(store.run(name, 'peer', bad.data, { params: bad.params })).rejects.toBeInstanceOf(BindingMismatchError)
    expect(seen).toHaveLength(1)
    // a node without a GPU refuses shaders; one without a pool refuses kernels
    const noGpu = new CodeStore({
      trust: [pub.publicKey],
      pool: pool(),
      dial: async () => Promise.reject(),
      own: () => bundle,
    })
    await expect(noGpu.run(name, 'peer', ok.data, { params: ok.params })).rejects.toBeInstanceOf(GpuUnavailableError)
    const kernel = await signBundle(CODE, { name: 'k', version: '1', kind: 'kernel' }, key)
    const noPool = new CodeStore({
      trust: [pub.publicKey],
      gpu: async () => new Uint8Array(0),
      dial: async () => Promise.reject(),
      own: () => kernel,
    })
    await expect(noPool.run(await bundleName(kernel), 'peer', Uint8Array.of(1), {})).rejects.toBeInstanceOf(
      KernelNotFoundError,
    )
    await Promise.all([store.stop(), noGpu.stop(), noPool.stop()])
  })
})
