import { describe, expect, it } from 'vitest'
import { InvalidOptionError } from '../errors.js'
import { fromBase64, toBase64, toBase64Url } from './base64.js'
import { formatPublicKey, generatePublisherKey, importPublisherKey, parsePublicKey } from './keys.js'

describe('publisher keys', () => {
  it('makes a key pair whose PEM loads back to the same public key', async () => {
    const k = await generatePublisherKey()
    expect(k.publicKey).toMatch(/^ed25519:[A-Za-z0-9_-]{43}$/)
    expect(k.secretKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+\n-----END PRIVATE KEY-----\n$/)
    expect((await importPublisherKey(k.secretKeyPem)).publicKey).toBe(k.publicKey)
    expect(formatPublicKey(parsePublicKey(k.publicKey))).toBe(k.publicKey)
  })

  it('refuses text that is not a public key', () => {
    for (const bad of [
      '',
      'ed25519:',
      `ed25519:${'A'.repeat(42)}`,
      `ed25519:${'A'.repeat(44)}`,
      `rsa:${'A'.repeat(43)}`,
      `ed25519:${'A'.repeat(42)}+`,
    ])
      expect(() => parsePublicKey(bad)).toThrow(InvalidOptionError)
    // 43 characters whose spare bits are not zero: another spelling of some key, refused
    expect(() => parsePublicKey(`ed25519:${'A'.repeat(42)}B`)).toThrow(InvalidOptionError)
  })

  it('refuses a secret key file that is not an Ed25519 PKCS#8 PEM', async () => {
    await expect(importPublisherKey('hello')).rejects.toThrow(InvalidOptionError)
    await expect(importPublisherKey('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')).rejects.toThrow(
      InvalidOptionError,
    )
  })

  it('base64 text has one spelling', () => {
    const b = Uint8Array.of(0xfb, 0xff, 0x01)
    expect(toBase64(b)).toBe('+/8B')
    expect(toBase64Url(b)).toBe('-_8B')
    expect(fromBase64('-_8B', true)).toEqual(b)
    expect(fromBase64('+/8B=', false)).toBeUndefined()
    expect(fromBase64('-_9', true)).toBeUndefined() // spare bits set
  })
})
