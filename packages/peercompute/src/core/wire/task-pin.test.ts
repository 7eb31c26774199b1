import { describe, expect, it } from 'vitest'
import { ProtocolError } from '../errors.js'
import { decodeTaskMessage, encodeTaskMessage, type TaskMessage } from './task.js'

// The content pin of a URL source (request `source.pin`) and the validator an
// executor reports (result `validator`): optional, bounded, strictly checked.

const LM = 'Wed, 21 Oct 2015 07:28:00 GMT'

function request(pin: unknown): TaskMessage {
  return {
    type: 'request',
    id: 9,
    header: {
      kernel: 'crc32c',
      source: { kind: 'url', url: 'https://data.example.com/b.bin', offset: 0, length: 10, pin } as never,
      deadlineMs: 1000,
    },
    data: new Uint8Array(0),
  }
}

function result(validator: unknown): TaskMessage {
  return {
    type: 'result',
    id: 9,
    header: { type: 'number', value: 7, execMs: 1, substrate: 'cpu', validator } as never,
    data: new Uint8Array(0),
  }
}

describe('content pins on the wire', () => {
  it('round-trip a strong ETag, a Last-Modified date, or both; absent stays absent', () => {
    for (const pin of [{ etag: '"abc-123"' }, { lastModified: LM }, { etag: '"x"', lastModified: LM }]) {
      expect(decodeTaskMessage(encodeTaskMessage(request(pin)))).toEqual(request(pin))
      expect(decodeTaskMessage(encodeTaskMessage(result(pin)))).toEqual(result(pin))
    }
    const plain = decodeTaskMessage(encodeTaskMessage(request(undefined)))
    expect(plain.type === 'request' && plain.header.source.kind === 'url' && 'pin' in plain.header.source).toBe(false)
    const noValidator = decodeTaskMessage(encodeTaskMessage(result(undefined)))
    expect(noValidator.type === 'result' && 'validator' in noValidator.header).toBe(false)
  })

  it('refuses weak, unquoted, oversized or header-breaking values, unknown fields and empty pins, keeping the task id', () => {
    for (const bad of [
      { etag: 'W/"weak"' },
      { etag: 'abc' },
      { etag: `"${'a'.repeat(300)}"` },
      { etag: '"a"\r\nx-evil: 1' },
      { etag: '"é"' },
      { etag: 7 },
      { lastModified: 'yesterday' },
      { lastModified: `${LM}${' '.repeat(80)}` },
      { lastModified: `${LM}\r\n` },
      { etag: '"a"', other: 1 },
      {},
      [],
      'x',
      null,
    ]) {
      for (const m of [request(bad), result(bad)]) {
        let err: unknown
        try {
          decodeTaskMessage(encodeTaskMessage(m))
        } catch (e) {
          err = e
        }
        expect(err, JSON.stringify(bad)).toBeInstanceOf(ProtocolError)
        expect((err as { taskId?: number }).taskId).toBe(9)
      }
    }
  })
})
