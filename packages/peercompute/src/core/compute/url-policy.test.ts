import { describe, expect, it } from 'vitest'
import { UrlNotAllowedError } from '../errors.js'
import { checkAddress, checkUrl, isMetadataHost, resolveUrlPolicy, urlPolicyToInit } from './url-policy.js'

const DEFAULT = resolveUrlPolicy(undefined)
const PRIVATE = resolveUrlPolicy({ allowPrivate: true })

function refused(url: string, policy = DEFAULT): boolean {
  try {
    checkUrl(url, policy)
    return false
  } catch (err) {
    expect(err).toBeInstanceOf(UrlNotAllowedError)
    expect((err as Error).name).toBe('UrlNotAllowedError')
    return true
  }
}

describe('checkUrl: what a URL alone says', () => {
  it('fetches only http: and https:', () => {
    expect(refused('https://data.example.com/blob.bin')).toBe(false)
    expect(refused('http://data.example.com:8080/blob.bin?x=1')).toBe(false)
    for (const u of [
      'ftp://data.example.com/x',
      'file:///etc/passwd',
      'data:text/plain,hi',
      'blob:https://a.example/x',
      'gopher://a.example/',
      'ws://a.example/',
      'javascript:alert(1)',
      'not a url',
      '/relative/path',
    ])
      expect(refused(u), u).toBe(true)
  })

  it('refuses userinfo, even empty or on an allowed origin', () => {
    expect(refused('https://user:pw@data.example.com/x')).toBe(true)
    expect(refused('https://user@data.example.com/x')).toBe(true)
    expect(refused('https://:pw@data.example.com/x')).toBe(true)
    const allow = resolveUrlPolicy({ allowOrigins: ['https://data.example.com'] })
    expect(refused('https://u:p@data.example.com/x', allow)).toBe(true)
  })

  it('by default refuses every non-public IP literal, in any form the URL parser accepts', () => {
    for (const u of [
      'http://127.0.0.1/',
      'http://127.1:8080/',
      'http://0x7f000001/',
      'http://2130706433/',
      'http://0177.0.0.1/',
      'http://%31%32%37.0.0.1/',
      'http://0.0.0.0/',
      'http://10.0.0.1/',
      'http://172.16.5.4/',
      'http://192.168.0.1/',
      'http://100.64.0.1/',
      'http://169.254.1.1/',
      'http://224.0.0.1/',
      'http://255.255.255.255/',
      'http://[::1]/',
      'http://[::]/',
      'http://[::ffff:127.0.0.1]/',
      'http://[::ffff:7f00:1]/',
      'http://[64:ff9b::a00:1]/',
      'http://[fc00::1]/',
      'http://[fe80::1]/',
      'http://[ff02::1]/',
      'http://[2001:db8::1]/',
    ])
      expect(refused(u), u).toBe(true)
    expect(refused('http://8.8.8.8/')).toBe(false)
    expect(refused('http://[2606:4700:4700::1111]/')).toBe(false)
  })

  it('by default refuses local names; allowPrivate allows them (their addresses are checked where they resolve)', () => {
    for (const u of [
      'http://localhost/',
      'http://LOCALHOST./',
      'http://a.localhost/',
      'http://printer.local/',
      'http://db.internal/',
      'http://nas.home.arpa/',
      'http://router/',
    ]) {
      expect(refused(u), u).toBe(true)
      expect(refused(u, PRIVATE), u).toBe(false)
    }
  })

  it('allowPrivate opens loopback, private, link-local, CGNAT and unique-local, but not the rest', () => {
    for (const u of [
      'http://127.0.0.1:9/',
      'http://10.1.2.3/',
      'http://100.64.0.1/',
      'http://169.254.1.1/',
      'http://[fd12::1]/',
      'http://[::1]/',
    ])
      expect(refused(u, PRIVATE), u).toBe(false)
    for (const u of ['http://0.0.0.0/', 'http://224.0.0.1/', 'http://[ff02::1]/', 'http://[::]/', 'http://240.0.0.1/'])
      expect(refused(u, PRIVATE), u).toBe(true)
  })

  it('never fetches cloud metadata addresses, whatever the policy', () => {
    for (const u of [
      'http://169.254.169.254/latest/meta-data/',
      'http://0xa9fea9fe/',
      'http://[::ffff:169.254.169.254]/',
      'http://[::ffff:a9fe:a9fe]/',
      'http://[fd00:ec2::254]/',
      'http://169.254.170.2/',
      'http://100.100.100.200/',
      'http://metadata.google.internal/',
      'http://metadata/',
    ]) {
      expect(refused(u, PRIVATE), u).toBe(true)
      expect(refused(u, resolveUrlPolicy({ allowPrivate: true, allowOrigins: [new URL(u).origin] })), u).toBe(true)
    }
    expect(isMetadataHost('169.254.169.254')).toBe(true)
    expect(isMetadataHost('64:ff9b::a9fe:a9fe')).toBe(true)
    expect(isMetadataHost('169.254.169.253')).toBe(false)
  })

  it('with allowOrigins, only those origins (scheme, host and port all count)', () => {
    const p = resolveUrlPolicy({ allowOrigins: ['https://data.example.com', 'http://8.8.8.8:8080/'] })
    expect(refused('https://data.example.com/a/b.bin', p)).toBe(false)
    expect(refused('https://DATA.example.com:443/x', p)).toBe(false)
    expect(refused('http://8.8.8.8:8080/x', p)).toBe(false)
    expect(refused('http://data.example.com/x', p)).toBe(true)
    expect(refused('https://data.example.com:8443/x', p)).toBe(true)
    expect(refused('https://other.example.com/x', p)).toBe(true)
    expect(refused('https://data.example.com.evil.example/x', p)).toBe(true)
    expect(refused('http://8.8.8.8/x', p)).toBe(true)
  })

  it('an allowed origin on a private address still needs allowPrivate', () => {
    const listed = resolveUrlPolicy({ allowOrigins: ['http://127.0.0.1:8080'] })
    expect(refused('http://127.0.0.1:8080/x', listed)).toBe(true)
    const both = resolveUrlPolicy({ allowOrigins: ['http://127.0.0.1:8080'], allowPrivate: true })
    expect(refused('http://127.0.0.1:8080/x', both)).toBe(false)
    expect(refused('http://127.0.0.1:8081/x', both)).toBe(true)
  })
})

describe('checkAddress: what a name resolved to', () => {
  it('applies the same kinds to resolved addresses', () => {
    expect(() => checkAddress('93.184.216.34', DEFAULT)).not.toThrow()
    expect(() => checkAddress('127.0.0.1', DEFAULT)).toThrow(UrlNotAllowedError)
    expect(() => checkAddress('::ffff:10.0.0.1', DEFAULT)).toThrow(/private/)
    expect(() => checkAddress('127.0.0.1', PRIVATE)).not.toThrow()
    expect(() => checkAddress('169.254.169.254', PRIVATE)).toThrow(/metadata/)
    expect(() => checkAddress('not-an-ip', PRIVATE)).toThrow(UrlNotAllowedError)
  })
})

describe('resolveUrlPolicy', () => {
  it('defaults to public hosts only', () => {
    expect(DEFAULT).toEqual({ allowPrivate: false })
  })

  it('refuses bad options with a TypeError that names the field', () => {
    expect(() => resolveUrlPolicy('x' as never)).toThrow(/urlPolicy must be an object/)
    expect(() => resolveUrlPolicy({ allowPrivate: 'yes' as never })).toThrow(/allowPrivate/)
    expect(() => resolveUrlPolicy({ allowOrigins: 'https://a.example' as never })).toThrow(/allowOrigins/)
    expect(() => resolveUrlPolicy({ allowOrigins: ['not a url'] })).toThrow(/allowOrigins/)
    expect(() => resolveUrlPolicy({ allowOrigins: ['ftp://a.example'] })).toThrow(/http\(s\) origin/)
    expect(() => resolveUrlPolicy({ allowOrigins: ['https://a.example/path'] })).toThrow(/origin/)
    expect(() => resolveUrlPolicy({ allowOrigins: ['https://u:p@a.example'] })).toThrow(/origin/)
    expect(() => resolveUrlPolicy({ allowOrigins: Array(257).fill('https://a.example') })).toThrow(/at most/)
  })

  it('round-trips through the plain form sent to workers', () => {
    const p = resolveUrlPolicy({ allowOrigins: ['https://A.example:443'], allowPrivate: true })
    expect(urlPolicyToInit(p)).toEqual({ allowOrigins: ['https://a.example'], allowPrivate: true })
    expect(resolveUrlPolicy(urlPolicyToInit(p))).toEqual(p)
  })
})
