import { describe, expect, it } from 'vitest'
import { parseRequest, parseResponse } from './protocol.js'

describe('the forwarded-task wire format', () => {
  it('reads a request with inline bytes or a URL range, and nothing else', () => {
    expect(parseRequest({ v: 1, op: 'xor', params: { imm: 7, key: 'AQI=' }, data: 'AAAA' })).toEqual({
      v: 1,
      op: 'xor',
      params: { imm: 7, key: 'AQI=' },
      data: 'AAAA',
    })
    expect(
      parseRequest({ v: 1, op: 'counteq', range: { url: 'https://h/x', offset: 5, length: 10, etag: '"a"' } }).range,
    ).toEqual({ url: 'https://h/x', offset: 5, length: 10, etag: '"a"' })
    for (const bad of [
      null,
      { v: 1, op: 'counteq' },
      { v: 1, op: 'counteq', data: 1 },
      { v: 1, op: 'counteq', range: { url: 'https://h/x', offset: 1.5, length: 1 } },
      { v: 1, op: 'counteq', params: [], data: '' },
      { v: 1, op: 'fnv64', params: { seed: '-1' }, data: '' },
    ])
      expect(() => parseRequest(bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ name: 'WireError' }))
  })

  it('reads an answer: a result, or an error with bounded fields', () => {
    expect(
      parseResponse({ v: 1, ok: true, result: { type: 'bigint', value: '18446744073709551615' }, execMs: 3 }),
    ).toMatchObject({
      ok: true,
      result: { type: 'bigint', value: '18446744073709551615' },
    })
    expect(parseResponse({ v: 1, ok: false, error: { name: 'DataSourceError', message: 'no' } })).toMatchObject({
      ok: false,
    })
    // a bogus execMs is dropped, not trusted
    expect(parseResponse({ v: 1, ok: true, result: { type: 'number', value: 1 }, execMs: -5 })).toMatchObject({
      execMs: 0,
    })
    for (const bad of [
      { v: 1, ok: true, result: { type: 'number', value: 1.5 } },
      { v: 1, ok: true, result: { type: 'bigint', value: '0x10' } },
      { v: 1, ok: true, result: { type: 'json', value: {} } },
      { v: 1, ok: false, error: { name: 5, message: 'x' } },
      { v: 1, ok: 'yes' },
    ])
      expect(() => parseResponse(bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ name: 'WireError' }))
  })
})
