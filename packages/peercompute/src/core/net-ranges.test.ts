import { describe, expect, it } from 'vitest'
import { type IpKind, ipKind, isPublicIp, parseIpv6 } from './net-ranges.js'

const cases: Array<[string, IpKind]> = [
  // IPv4
  ['8.8.8.8', 'public'],
  ['1.1.1.1', 'public'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['10.0.0.1', 'private'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['172.32.0.1', 'public'],
  ['172.15.255.255', 'public'],
  ['192.168.1.1', 'private'],
  ['169.254.169.254', 'link-local'],
  ['100.64.0.1', 'cgnat'],
  ['100.100.100.200', 'cgnat'],
  ['100.127.255.255', 'cgnat'],
  ['100.128.0.1', 'public'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.255', 'reserved'],
  ['192.0.2.1', 'reserved'],
  ['198.18.0.1', 'reserved'],
  ['203.0.113.7', 'reserved'],
  // IPv6
  ['::', 'unspecified'],
  ['::1', 'loopback'],
  ['[::1]', 'loopback'],
  ['0:0:0:0:0:0:0:1', 'loopback'],
  ['2606:4700:4700::1111', 'public'],
  ['2a00:1450:4001:81c::200e', 'public'],
  ['fe80::1', 'link-local'],
  ['fe80::1%eth0', 'link-local'],
  ['febf::1', 'link-local'],
  ['fc00::1', 'unique-local'],
  ['fd00:ec2::254', 'unique-local'],
  ['ff02::1', 'multicast'],
  ['2001:db8::1', 'reserved'],
  ['2001::1', 'reserved'],
  ['fec0::1', 'reserved'],
  ['4000::1', 'reserved'],
  ['::7f00:1', 'reserved'],
  // IPv4 inside IPv6 is what it embeds
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['::FFFF:169.254.169.254', 'link-local'],
  ['::ffff:10.1.2.3', 'private'],
  ['::ffff:8.8.8.8', 'public'],
  ['64:ff9b::127.0.0.1', 'loopback'],
  ['64:ff9b::808:808', 'public'],
  ['2002:7f00:1::', 'loopback'],
  ['2002:c000:204::1', 'reserved'],
  ['2002:808:808::1', 'public'],
  // not IP addresses
  ['', 'invalid'],
  ['localhost', 'invalid'],
  ['example.com', 'invalid'],
  ['010.0.0.1', 'invalid'],
  ['0x7f.0.0.1', 'invalid'],
  ['2130706433', 'invalid'],
  ['127.1', 'invalid'],
  ['256.0.0.1', 'invalid'],
  ['1.2.3.4.5', 'invalid'],
  ['1:2:3:4:5:6:7:8:9', 'invalid'],
  ['1::2::3', 'invalid'],
  ['12345::1', 'invalid'],
  ['::ffff:127.0.0.01', 'invalid'],
  ['fe80::1%', 'invalid'],
  [':::', 'invalid'],
]

describe('ipKind', () => {
  it.each(cases)('%s is %s', (ip, kind) => {
    expect(ipKind(ip)).toBe(kind)
    expect(isPublicIp(ip)).toBe(kind === 'public')
  })

  it('rejects non-strings', () => {
    expect(ipKind(undefined as unknown as string)).toBe('invalid')
  })

  it('expands :: in every position', () => {
    expect(parseIpv6('1::')).toEqual(new Uint8Array([0, 1, ...new Array(14).fill(0)]))
    expect(parseIpv6('1:2:3:4:5:6:7::')?.[13]).toBe(7)
    expect(parseIpv6('::2:3:4:5:6:7:8')?.[15]).toBe(8)
    expect(parseIpv6('1:2:3:4:5:6:7:8::')).toBeUndefined()
  })
})
