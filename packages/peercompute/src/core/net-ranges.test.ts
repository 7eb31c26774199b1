import { describe, expect, it } from 'vitest'
import { type IpKind, ipKind, isPublicIp, parseIp } from './net-ranges.js'

const CASES: Array<[string, IpKind]> = [
  // IPv4, one address per range and its edges
  ['8.8.8.8', 'public'],
  ['1.1.1.1', 'public'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'reserved'],
  ['10.0.0.1', 'private'],
  ['10.255.255.255', 'private'],
  ['11.0.0.0', 'public'],
  ['100.63.255.255', 'public'],
  ['100.64.0.1', 'cgnat'],
  ['100.127.255.255', 'cgnat'],
  ['100.128.0.0', 'public'],
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['169.254.169.254', 'link-local'],
  ['172.15.255.255', 'public'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['172.32.0.0', 'public'],
  ['192.0.0.8', 'reserved'],
  ['192.0.2.1', 'reserved'],
  ['192.88.99.1', 'reserved'],
  ['192.168.1.1', 'private'],
  ['192.169.0.1', 'public'],
  ['198.18.0.1', 'reserved'],
  ['198.19.255.255', 'reserved'],
  ['198.20.0.0', 'public'],
  ['198.51.100.7', 'reserved'],
  ['203.0.113.9', 'reserved'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.255', 'multicast'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.255', 'reserved'],
  // IPv4 as the URL parser reads it: hex, octal, fewer parts, one number
  ['0x7f.1', 'loopback'],
  ['0177.0.0.1', 'loopback'],
  ['127.1', 'loopback'],
  ['2130706433', 'loopback'],
  ['0xa9fea9fe', 'link-local'],
  ['0', 'unspecified'],
  // IPv6
  ['::', 'unspecified'],
  ['::1', 'loopback'],
  ['[::1]', 'loopback'],
  ['0:0:0:0:0:0:0:1', 'loopback'],
  ['2606:4700:4700::1111', 'public'],
  ['2001:4860:4860::8888', 'public'],
  ['fc00::1', 'unique-local'],
  ['fd00:ec2::254', 'unique-local'],
  ['FD12:3456::1', 'unique-local'],
  ['fe80::1', 'link-local'],
  ['fe80::1%eth0', 'link-local'],
  ['febf::1', 'link-local'],
  ['fec0::1', 'private'],
  ['ff02::1', 'multicast'],
  ['2001:db8::1', 'reserved'],
  ['2001::1', 'reserved'], // Teredo
  ['100::1', 'reserved'],
  ['3fff::1', 'reserved'],
  ['::2', 'reserved'], // IPv4-compatible
  ['4000::1', 'reserved'],
  // IPv4 inside IPv6: classified by the IPv4 address it reaches
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['::ffff:10.1.2.3', 'private'],
  ['::ffff:169.254.169.254', 'link-local'],
  ['::ffff:8.8.8.8', 'public'],
  ['[::ffff:192.168.0.1]', 'private'],
  ['64:ff9b::10.0.0.1', 'private'],
  ['64:ff9b::8.8.8.8', 'public'],
  ['64:ff9b:1::1', 'reserved'],
  ['2002:7f00:1::', 'loopback'], // 6to4 of 127.0.0.1
  ['2002:808:808::1', 'public'],
  // not addresses
  ['', 'invalid'],
  ['example.com', 'invalid'],
  ['localhost', 'invalid'],
  ['abc', 'invalid'],
  ['1.2.3.4.5', 'invalid'],
  ['256.0.0.1', 'invalid'],
  ['1.2.3.4/8', 'invalid'],
  ['evil@127.0.0.1', 'invalid'],
  ['1.1.1.1:80', 'invalid'],
  ['::1::2', 'invalid'],
  ['12345::1', 'invalid'],
  ['[::1', 'invalid'],
]

describe('ipKind', () => {
  it.each(CASES)('%s is %s', (ip, kind) => {
    expect(ipKind(ip)).toBe(kind)
  })

  it('isPublicIp is true only for public unicast', () => {
    for (const [ip, kind] of CASES) expect(isPublicIp(ip), ip).toBe(kind === 'public')
  })

  it('is total: never throws, whatever the input', () => {
    for (const x of [null, undefined, 7, {}, 'x'.repeat(10_000), '%', '[]', '::%', '0x', '..', '１２７.0.0.1'])
      expect(() => ipKind(x as string)).not.toThrow()
  })

  it('parseIp gives the bytes of both families', () => {
    expect(Array.from(parseIp('0x7f.1') ?? [])).toEqual([127, 0, 0, 1])
    expect(Array.from(parseIp('::ffff:1.2.3.4') ?? [])).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 255, 1, 2, 3, 4])
    expect(parseIp('host.example')).toBeUndefined()
  })
})

// the dial policy's cases (addresses as multiaddrs carry them)
const dialCases: Array<[string, IpKind]> = [
  // IPv4
  ['8.8.8.8', 'public'],
  ['1.1.1.1', 'public'],
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'reserved'],
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
  ['fec0::1', 'private'],
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
  ['256.0.0.1', 'invalid'],
  ['1.2.3.4.5', 'invalid'],
  ['1:2:3:4:5:6:7:8:9', 'invalid'],
  ['1::2::3', 'invalid'],
  ['12345::1', 'invalid'],
  ['fe80::1%', 'invalid'],
  [':::', 'invalid'],
]

describe('ipKind on addresses from multiaddrs', () => {
  it.each(dialCases)('%s is %s', (ip, kind) => {
    expect(ipKind(ip)).toBe(kind)
    expect(isPublicIp(ip)).toBe(kind === 'public')
  })
})
