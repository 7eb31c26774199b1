import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { CodeManifest } from '../../code/manifest.js'
import { BindingMismatchError, GpuLimitError, PayloadTooLargeError, ProtocolError } from '../../errors.js'
import { decodeWgslTask, encodeWgslTask, type RemoteWgslTask, WGSL_LIMITS } from './remote-wgsl.js'

const manifest: CodeManifest = {
  name: 'triple',
  version: '1',
  kind: 'wgsl',
  sha256: '0'.repeat(64),
  size: 10,
  entry: 'main',
  bindings: [
    { binding: 0, kind: 'uniform' },
    { binding: 1, kind: 'storage-read' },
    { binding: 2, kind: 'storage' },
  ],
  limits: {},
}

const task = (over: Partial<RemoteWgslTask> = {}): RemoteWgslTask => ({
  code: 'bundle:x',
  workgroups: [4],
  bindings: [
    { binding: 2, size: 64 },
    { binding: 0, data: Uint8Array.of(16, 0, 0, 0), size: 16 },
    { binding: 1, data: Uint8Array.from({ length: 64 }, (_, i) => i) },
  ],
  output: { binding: 2, size: 64 },
  ...over,
})

describe('traveling WGSL tasks', () => {
  it('encode then decode gives the task back, with the kinds and entry point from the manifest', () => {
    const { params, data } = encodeWgslTask(task(), manifest)
    expect(params.workgroups).toEqual([4, 1, 1])
    expect(data.length).toBe(4 + 64)
    const wire = JSON.parse(JSON.stringify(params))
    const t = decodeWgslTask('src', manifest, wire, data)
    expect(t.entryPoint).toBe('main')
    expect(t.output).toEqual({ binding: 2, size: 64 })
    expect(t.bindings.map((b) => [b.binding, b.kind, b.size, b.data?.length])).toEqual([
      [2, 'storage', 64, 0],
      [0, 'uniform', 16, 4],
      [1, 'storage-read', 64, 64],
    ])
    expect(t.bindings[2].data).toEqual(Uint8Array.from({ length: 64 }, (_, i) => i))
  })

  it('bindings other than the declared ones, or an output outside them: BindingMismatchError on both sides', () => {
    const missing = task({ bindings: task().bindings.slice(1) })
    expect(() => encodeWgslTask(missing, manifest)).toThrow(BindingMismatchError)
    const extra = task({ bindings: [...task().bindings, { binding: 3, size: 4 }] })
    expect(() => encodeWgslTask(extra, manifest)).toThrow(BindingMismatchError)
    expect(() => encodeWgslTask(task({ output: { binding: 5, size: 4 } }), manifest)).toThrow(BindingMismatchError)
    expect(() => encodeWgslTask(task({ output: { binding: 2, size: 65 } }), manifest)).toThrow(BindingMismatchError)
    const wrongKind = task({ bindings: [{ binding: 2, size: 64, kind: 'uniform' }, ...task().bindings.slice(1)] })
    expect(() => encodeWgslTask(wrongKind, manifest)).toThrow(BindingMismatchError)
    // the executor finds the same without trusting the submitter's check
    const { params, data } = encodeWgslTask(missing)
    expect(() => decodeWgslTask('src', manifest, params, data)).toThrow(BindingMismatchError)
    const dup = encodeWgslTask(task())
    dup.params.bindings[0].binding = 1
    expect(() => decodeWgslTask('src', manifest, dup.params, dup.data)).toThrow(BindingMismatchError)
  })

  it('buffers over the limits: PayloadTooLargeError; a dispatch or uniform over them: GpuLimitError', () => {
    const big = encodeWgslTask(task({ bindings: [{ binding: 2, size: 2 ** 30 }, ...task().bindings.slice(1)] }))
    expect(() => decodeWgslTask('src', manifest, big.params, big.data)).toThrow(PayloadTooLargeError)
    const limited = { ...manifest, limits: { maxOutputBytes: 32 } }
    const ok = encodeWgslTask(task())
    expect(() => decodeWgslTask('src', limited, ok.params, ok.data)).toThrow(PayloadTooLargeError)
    expect(() => encodeWgslTask(task(), limited)).toThrow(PayloadTooLargeError)
    for (const workgroups of [[65_536], [65_535, 65_535, 2], [4096, 4096]] as [number, number?, number?][]) {
      const t = encodeWgslTask(task({ workgroups }))
      expect(() => decodeWgslTask('src', manifest, t.params, t.data), String(workgroups)).toThrow(GpuLimitError)
    }
    const uni = encodeWgslTask(
      task({ bindings: [...task().bindings.slice(0, 1), { binding: 0, size: 1 << 17 }, task().bindings[2]] }),
    )
    expect(() => decodeWgslTask('src', manifest, uni.params, uni.data)).toThrow(GpuLimitError)
    expect(() => decodeWgslTask('src', manifest, ok.params, ok.data, { ...WGSL_LIMITS, maxBytes: 100 })).toThrow(
      PayloadTooLargeError,
    )
  })

  it('params of the wrong shape, or input that is not the initial bytes: ProtocolError', () => {
    const { params, data } = encodeWgslTask(task())
    const bad: unknown[] = [
      null,
      [],
      { ...params, workgroups: [1, 1] },
      { ...params, workgroups: [0, 1, 1] },
      { ...params, workgroups: [1.5, 1, 1] },
      { ...params, bindings: [] },
      { ...params, bindings: 'x' },
      { ...params, bindings: [{ binding: 0, size: 4, length: 8 }] },
      { ...params, bindings: [{ binding: -1, size: 4, length: 0 }] },
      { ...params, output: { binding: 2 } },
      { ...params, bindings: Array.from({ length: 65 }, (_, i) => ({ binding: i, size: 4, length: 0 })) },
    ]
    for (const p of bad)
      expect(() => decodeWgslTask('src', manifest, p, data), JSON.stringify(p)).toThrow(ProtocolError)
    expect(() => decodeWgslTask('src', manifest, params, data.subarray(1))).toThrow(ProtocolError)
  })
})

describe('traveling WGSL tasks: anything a peer sends', () => {
  const TYPED = [ProtocolError, BindingMismatchError, PayloadTooLargeError, GpuLimitError]
  const small = fc.oneof(fc.integer({ min: -2, max: 70_000 }), fc.constantFrom(2 ** 40, 2 ** 53, 1.5, Number.NaN))
  const binding = fc.record(
    { binding: fc.integer({ min: -1, max: 4 }), size: small, length: small },
    { requiredKeys: ['binding'] },
  )
  const params = fc.oneof(
    fc.anything(),
    fc.record({
      workgroups: fc.oneof(fc.array(small, { maxLength: 4 }), fc.anything()),
      bindings: fc.oneof(fc.array(binding, { maxLength: 6 }), fc.anything()),
      output: fc.oneof(fc.record({ binding: fc.integer({ min: -1, max: 4 }), size: small }), fc.anything()),
    }),
  )

  it('is a task within the limits and the declared bindings, or one of the typed refusals', () => {
    fc.assert(
      fc.property(params, fc.uint8Array({ maxLength: 256 }), (p, input) => {
        let t: ReturnType<typeof decodeWgslTask>
        try {
          t = decodeWgslTask('src', manifest, p, input)
        } catch (err) {
          expect(
            TYPED.some((C) => err instanceof C),
            String(err),
          ).toBe(true)
          return
        }
        expect(t.bindings.map((b) => b.binding).sort()).toEqual([0, 1, 2])
        expect(t.bindings.reduce((s, b) => s + (b.size ?? 0), 0)).toBeLessThanOrEqual(WGSL_LIMITS.maxBytes)
        expect(t.bindings.reduce((s, b) => s + (b.data?.length ?? 0), 0)).toBe(input.length)
        const [x, y = 1, z = 1] = t.workgroups
        expect(x * y * z).toBeLessThanOrEqual(WGSL_LIMITS.maxWorkgroups)
      }),
      { numRuns: 2000 },
    )
  })
})
