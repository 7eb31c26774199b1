import { prng, testSeed } from '@peercompute/kernels/testing'
import { describe, expect, it } from 'vitest'
import { ProtocolError } from '../errors.js'
import { dataRoom, decodeTaskMessage, encodeTaskMessage, TASK_FRAME_MAX, type TaskMessage } from './task.js'

const SEED = testSeed(0x7a5c)

function randomMessage(r: ReturnType<typeof prng>): TaskMessage {
  const id = r.int(2 ** 31)
  switch (r.int(5)) {
    case 0: {
      const url = r.int(2) === 1
      return {
        type: 'request',
        id,
        header: {
          kernel: ['crc32c', 'fnv64', 'my-kernel'][r.int(3)],
          source: url
            ? { kind: 'url', url: `http://127.0.0.1:${r.int(65536)}/b.bin`, offset: r.int(1e9), length: r.int(1e9) }
            : { kind: 'inline', length: r.int(1e6) },
          deadlineMs: 1 + r.int(1e6),
          params: { imm: r.int(256), seed: String(r.u32()), key: 'ab01' },
          ...(r.int(2) ? { prefer: 'gpu' as const } : {}),
        },
        data: url ? new Uint8Array(0) : r.bytes(r.int(dataRoom(400))),
      }
    }
    case 1:
      return { type: 'data', id, data: r.bytes(r.int(dataRoom() + 1)) }
    case 2:
      return { type: 'cancel', id }
    case 3: {
      const kind = r.int(3)
      return {
        type: 'result',
        id,
        header:
          kind === 0
            ? { type: 'number', value: r.u32(), execMs: r.int(1000), substrate: 'cpu' }
            : kind === 1
              ? { type: 'bigint', value: String(r.u32() * 2 ** 20), execMs: 1.5, substrate: 'webgpu' }
              : { type: 'bytes', length: 70_000, execMs: 2, substrate: 'cpu' },
        data: kind === 2 ? r.bytes(r.int(dataRoom(200))) : new Uint8Array(0),
      }
    }
    default:
      return { type: 'error', id, name: 'KernelNotFoundError', message: 'x'.repeat(r.int(1000)) }
  }
}

describe(`task protocol messages (seed ${SEED})`, () => {
  it('round-trip, and every frame fits in TASK_FRAME_MAX', () => {
    const r = prng(SEED)
    for (let i = 0; i < 2000; i++) {
      const m = randomMessage(r)
      const f = encodeTaskMessage(m)
      expect(f.length).toBeLessThanOrEqual(TASK_FRAME_MAX)
      expect(decodeTaskMessage(f)).toEqual(m)
    }
  })

  it('random bytes and mutated frames decode or fail with ProtocolError, never anything else', () => {
    const r = prng(SEED + 1)
    let refused = 0
    for (let i = 0; i < 5000; i++) {
      const f = i % 2 ? r.bytes(r.int(64)) : encodeTaskMessage(randomMessage(r)).slice()
      if (i % 2 === 0) for (let k = 0; k < 3; k++) f[r.int(Math.min(f.length, 64))] = r.int(256)
      try {
        decodeTaskMessage(f)
      } catch (err) {
        expect(err).toBeInstanceOf(ProtocolError)
        refused++
      }
    }
    expect(refused).toBeGreaterThan(1000)
  })

  it('a bad body keeps its task id, so only that task fails', () => {
    const bad = Uint8Array.of(1, 42, 3, 0x7b, 0x78, 0x7d)
    expect(() => decodeTaskMessage(bad)).toThrow(ProtocolError)
    try {
      decodeTaskMessage(bad)
    } catch (err) {
      expect((err as { taskId?: number }).taskId).toBe(42)
    }
    expect(() => decodeTaskMessage(new Uint8Array(TASK_FRAME_MAX + 1).fill(1))).toThrow(/exceeds/)
    expect(() => decodeTaskMessage(Uint8Array.of(3, 1, 0))).toThrow(/cancel carries no body/)
    const huge = { type: 'data' as const, id: 1, data: new Uint8Array(TASK_FRAME_MAX) }
    expect(() => encodeTaskMessage(huge)).toThrow(RangeError)
  })
})
