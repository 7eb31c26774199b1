import { prng, testSeed } from '@peercompute/kernels/testing'
import { describe, expect, it } from 'vitest'
import { ProtocolError } from '../errors.js'
import { FrameDecoder } from './frames.js'
import {
  dataRoom,
  decodeTaskMessage,
  encodeTaskMessage,
  TASK_FRAME_MAX,
  TASK_WRITE_BYTES,
  type TaskMessage,
  taskFrames,
} from './task.js'

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
        data: url ? new Uint8Array(0) : r.bytes(r.int(r.int(4) === 0 ? dataRoom(400) : 1024)),
      }
    }
    case 1:
      return { type: 'data', id, data: r.bytes(r.int(r.int(4) === 0 ? dataRoom() + 1 : 1024)) }
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
  it('taskFrames: a request or result and its data as writes of whole frames, ≤ 64 KiB each unless one frame is larger, the data back in order', () => {
    const r = prng(SEED + 7)
    for (let i = 0; i < 200; i++) {
      const length = [0, 1, dataRoom(200), dataRoom(200) + 1, r.int(300_000)][r.int(5)]
      const data = r.bytes(length)
      const id = 1 + r.int(2 ** 31)
      const writes =
        r.int(2) === 0
          ? taskFrames(
              { type: 'request', id, header: { kernel: '@map', source: { kind: 'inline', length }, deadlineMs: 5 } },
              data,
            )
          : taskFrames({ type: 'result', id, header: { type: 'bytes', length, execMs: 1, substrate: 'cpu' } }, data)
      const dec = new FrameDecoder(TASK_FRAME_MAX)
      const got: Uint8Array[] = []
      let first: TaskMessage | undefined
      for (const w of writes) {
        const frames = dec.push(w.subarray())
        expect(dec.buffered).toBe(0) // each write holds whole frames only
        expect(w.length <= TASK_WRITE_BYTES || frames.length === 1).toBe(true)
        for (const f of frames) {
          expect(f.length).toBeLessThanOrEqual(TASK_FRAME_MAX)
          const m = decodeTaskMessage(f)
          expect(m.id).toBe(id)
          if (!first) first = m
          else expect(m.type).toBe('data')
          got.push((m as { data: Uint8Array }).data)
        }
      }
      expect(first?.type).toMatch(/request|result/)
      expect(Buffer.compare(Buffer.concat(got), data)).toBe(0)
    }
  })

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
