import { describe, expect, it } from 'vitest'
import { BUNDLE_MAX_BYTES } from '../code/bundle-format.js'
import { bundleName, isBundleName } from '../code/bundle-name.js'
import { ProtocolError } from '../errors.js'
import {
  BundleAssembler,
  bundleChunks,
  CODE_CHUNK_BYTES,
  decodeCodeHead,
  decodeCodeRequest,
  encodeCodeHead,
  encodeCodeRequest,
} from './code.js'

describe('code protocol codec', () => {
  it('names a bundle by its SHA-256 and round-trips the request', async () => {
    const name = await bundleName(Uint8Array.of(1, 2, 3))
    expect(isBundleName(name)).toBe(true)
    expect(name.length).toBeLessThanOrEqual(64)
    expect(await bundleName(Uint8Array.of(1, 2, 4))).not.toBe(name)
    expect(decodeCodeRequest(encodeCodeRequest(name))).toBe(name)
    expect(() => decodeCodeRequest(new TextEncoder().encode('bundle:short'))).toThrow(ProtocolError)
    expect(() => decodeCodeRequest(new Uint8Array(65))).toThrow(ProtocolError)
    expect(() => encodeCodeRequest('crc32c')).toThrow(ProtocolError)
  })

  it('round-trips heads and bounds the declared length', () => {
    expect(decodeCodeHead(encodeCodeHead({ found: false }))).toEqual({ found: false })
    expect(decodeCodeHead(encodeCodeHead({ found: true, length: 70_000 }))).toEqual({ found: true, length: 70_000 })
    expect(() => decodeCodeHead(encodeCodeHead({ found: true, length: 70_000 }), 1000)).toThrow(ProtocolError)
    expect(() => encodeCodeHead({ found: true, length: BUNDLE_MAX_BYTES + 1 })).toThrow(ProtocolError)
    expect(() => decodeCodeHead(Uint8Array.of(0, 0x80, 0x80, 0x80, 0x80, 0x80, 1))).toThrow(ProtocolError)
    expect(() => decodeCodeHead(Uint8Array.of(0, 5, 0))).toThrow(ProtocolError)
    expect(() => decodeCodeHead(Uint8Array.of(7))).toThrow(ProtocolError)
    expect(() => decodeCodeHead(new Uint8Array(0))).toThrow(ProtocolError)
  })

  it('chunks and reassembles a bundle exactly, refusing extra or oversized chunks', () => {
    const bundle = new Uint8Array(CODE_CHUNK_BYTES * 2 + 17).map((_, i) => i * 7)
    const chunks = bundleChunks(bundle)
    expect(chunks.map((c) => c.length)).toEqual([CODE_CHUNK_BYTES, CODE_CHUNK_BYTES, 17])
    const a = new BundleAssembler(bundle.length)
    for (const c of chunks) a.push(c)
    expect(a.complete).toBe(true)
    expect(Buffer.compare(a.bytes(), bundle)).toBe(0)
    expect(() => a.push(Uint8Array.of(1))).toThrow(ProtocolError)
    const b = new BundleAssembler(10)
    expect(() => b.bytes()).toThrow(ProtocolError)
    expect(() => b.push(new Uint8Array(0))).toThrow(ProtocolError)
    expect(() => new BundleAssembler(CODE_CHUNK_BYTES * 2).push(new Uint8Array(CODE_CHUNK_BYTES + 1))).toThrow(
      ProtocolError,
    )
  })
})
