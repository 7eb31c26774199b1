import { describe, expect, it } from 'vitest'
import { decodeBatch } from '../../../core/compute/mesh/map/batch-codec.js'
import { batchOutput, MAX_SANDBOX_OUTPUT_BYTES, parseSandboxReply, taskOutput } from './sandbox-reply.js'
import { SANDBOX_CSP, sandboxDocument } from './sandbox-sources.js'

describe('replies from a sandbox are checked before use', () => {
  it('parses ready, crash and done; anything else is a ProtocolError', () => {
    expect(parseSandboxReply({ t: 'ready' })).toEqual({ t: 'ready' })
    expect(parseSandboxReply({ t: 'done', id: 3, ok: true, out: [1] })).toEqual({
      t: 'done',
      id: 3,
      ok: true,
      out: [1],
    })
    const long = 'x'.repeat(5000)
    expect(parseSandboxReply({ t: 'done', id: 3, ok: false, name: long, message: long })).toEqual({
      t: 'done',
      id: 3,
      ok: false,
      name: 'x'.repeat(64),
      message: 'x'.repeat(1024),
    })
    expect(parseSandboxReply({ t: 'crash', message: 7 })).toEqual({ t: 'crash', message: '' })
    for (const bad of [null, 'junk', 42, {}, { t: 'done', id: 1.5, ok: true }, { t: 'done', id: 1 }, { t: 'x' }])
      expect(() => parseSandboxReply(bad), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ name: 'ProtocolError' }),
      )
  })

  it('a batch must have one encodable result per item', () => {
    const out = batchOutput([1, 'a', Uint8Array.of(1, 2), new ArrayBuffer(3)], 4)
    const back = decodeBatch(out, 4)
    expect(back.slice(0, 2)).toEqual([1, 'a'])
    expect(back[3]).toEqual(new Uint8Array(3))
    expect(() => batchOutput([1], 2)).toThrow(expect.objectContaining({ name: 'KernelError' }))
    expect(() => batchOutput('nope', 1)).toThrow(expect.objectContaining({ name: 'KernelError' }))
    expect(() => batchOutput([() => 1], 1)).toThrow(expect.objectContaining({ name: 'KernelError' }))
    const cyc: Record<string, unknown> = {}
    cyc.self = cyc
    expect(() => batchOutput([cyc], 1)).toThrow(expect.objectContaining({ name: 'KernelError' }))
  })

  it('a task output is bytes or JSON within the budget', () => {
    expect(taskOutput({ a: 1 })).toEqual({ a: 1 })
    expect(taskOutput(new ArrayBuffer(2))).toEqual(new Uint8Array(2))
    expect(() => taskOutput(undefined)).toThrow(expect.objectContaining({ name: 'KernelError' }))
    expect(() => taskOutput(1n)).toThrow(expect.objectContaining({ name: 'KernelError' }))
    expect(() => taskOutput(new Uint8Array(MAX_SANDBOX_OUTPUT_BYTES + 1))).toThrow(
      expect.objectContaining({ name: 'PayloadTooLargeError' }),
    )
  })

  it('the sandbox document has no network and its worker source cannot close the script element', () => {
    expect(SANDBOX_CSP).toContain("connect-src 'none'")
    expect(SANDBOX_CSP).toContain("default-src 'none'")
    const doc = sandboxDocument()
    expect(doc.match(/<\/script>/g)).toHaveLength(1)
    expect(doc).toContain(`content="${SANDBOX_CSP}"`)
  })
})
