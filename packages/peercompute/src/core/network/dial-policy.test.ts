import { multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { type DialPolicy, DialRules, dialPolicyGater } from './dial-policy.js'

const RELAY = '12D3KooWPZafoiKxyEdJgp6pef7m5cpgTtaQS9eQHhEpek7CjRYo'
const OTHER_RELAY = '12D3KooWFanGwYrGaLX5fpdeMWr3qRG9e123PCMpzeTzk86vfdUs'
const PEER = '12D3KooWSzNAMgSZ86hXPmcDAXg7fLHCicsypzJQBGoVotzqCjxz'
const RELAY_WS = `/ip4/127.0.0.1/tcp/4003/ws/p2p/${RELAY}`

const rules = (policy?: DialPolicy, relays = [RELAY_WS]) => new DialRules(policy, relays)
const why = (r: DialRules, a: string) => r.check(multiaddr(a))

describe('DialRules', () => {
  it('default: public unicast only, for every transport the platform has', () => {
    const r = rules()
    for (const ok of [
      `/ip4/8.8.8.8/tcp/4001/p2p/${PEER}`,
      `/ip6/2606:4700::1/tcp/4001/p2p/${PEER}`,
      `/ip4/8.8.8.8/tcp/443/wss/p2p/${PEER}`,
      `/ip4/8.8.8.8/tcp/443/tls/sni/example.com/ws/p2p/${PEER}`,
      `/p2p/${PEER}`,
    ])
      expect(why(r, ok), ok).toBeUndefined()
    const refused: Array<[string, RegExp]> = [
      [`/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`, /loopback/],
      [`/ip4/10.1.2.3/tcp/4001/p2p/${PEER}`, /private/],
      [`/ip4/192.168.0.10/tcp/80`, /private/],
      [`/ip4/169.254.169.254/tcp/80/p2p/${PEER}`, /link-local/],
      [`/ip4/100.100.100.200/tcp/80/p2p/${PEER}`, /cgnat/],
      [`/ip4/224.0.0.1/tcp/80/p2p/${PEER}`, /multicast/],
      [`/ip4/0.0.0.0/tcp/80/p2p/${PEER}`, /unspecified/],
      [`/ip6/::1/tcp/4001/p2p/${PEER}`, /loopback/],
      [`/ip6/::ffff:127.0.0.1/tcp/4001/p2p/${PEER}`, /loopback/],
      [`/ip6/fd00:ec2::254/tcp/80/p2p/${PEER}`, /unique-local/],
      [`/ip6/fe80::1/tcp/80/p2p/${PEER}`, /link-local/],
      [`/ip6zone/eth0/ip6/fe80::1/tcp/80/p2p/${PEER}`, /zoned/],
      [`/dns4/metadata.google.internal/tcp/80/p2p/${PEER}`, /DNS name/],
      [`/dnsaddr/example.com/p2p/${PEER}`, /DNS name/],
      [`/ip4/8.8.8.8/udp/4001/quic-v1/p2p/${PEER}`, /unsupported transport/],
      [`/unix/%2Ftmp%2Fs/p2p/${PEER}`, /unsupported address/],
      [`/ip4/8.8.8.8/tcp/443/ws/http-path/x/p2p/${PEER}`, /unsupported transport/],
    ]
    for (const [a, re] of refused) expect(why(r, a), a).toMatch(re)
  })

  it('the configured relays are always allowed, by their configured address', () => {
    const r = rules()
    expect(why(r, RELAY_WS)).toBeUndefined()
    expect(why(r, RELAY_WS.replace(`/p2p/${RELAY}`, ''))).toBeUndefined()
    // the same address claimed for another peer is not the relay
    expect(why(r, `/ip4/127.0.0.1/tcp/4003/ws/p2p/${PEER}`)).toMatch(/loopback/)
    // another address of the relay (learned from identify) is checked like any other
    expect(why(r, `/ip4/127.0.0.1/tcp/4002/p2p/${RELAY}`)).toMatch(/loopback/)
    expect(why(r, `/ip4/8.8.4.4/tcp/4002/p2p/${RELAY}`)).toBeUndefined()
  })

  it('circuit addresses only through a configured relay', () => {
    const r = rules()
    expect(why(r, `${RELAY_WS}/p2p-circuit/p2p/${PEER}`)).toBeUndefined()
    expect(why(r, `${RELAY_WS}/p2p-circuit/webrtc/p2p/${PEER}`)).toBeUndefined()
    expect(why(r, `/p2p/${RELAY}/p2p-circuit/p2p/${PEER}`)).toBeUndefined()
    expect(why(r, `/ip4/8.8.8.8/tcp/1/p2p/${OTHER_RELAY}/p2p-circuit/p2p/${PEER}`)).toMatch(/did not configure/)
    expect(why(r, `/p2p/${OTHER_RELAY}/p2p-circuit/webrtc/p2p/${PEER}`)).toMatch(/did not configure/)
    expect(why(r, `/ip4/8.8.8.8/tcp/1/p2p-circuit/p2p/${PEER}`)).toMatch(/did not configure/)
    // our relay at an address a peer made up: the address is checked as usual
    expect(why(r, `/ip4/169.254.169.254/tcp/80/p2p/${RELAY}/p2p-circuit/p2p/${PEER}`)).toMatch(/link-local/)
    expect(why(r, `${RELAY_WS}/p2p-circuit/p2p/${PEER}/p2p-circuit/p2p/${PEER}`)).toMatch(/more than one relay/)
    expect(why(r, `${RELAY_WS}/p2p-circuit/ip4/8.8.8.8/tcp/1`)).toMatch(/unsupported circuit/)
  })

  it('opting in: private ranges, names, fewer transports', () => {
    const lan = rules({ allowPrivate: true })
    expect(why(lan, `/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`)).toBeUndefined()
    expect(why(lan, `/ip4/10.0.0.1/tcp/4001/p2p/${PEER}`)).toBeUndefined()
    expect(why(lan, `/ip6zone/eth0/ip6/fe80::1/tcp/80/p2p/${PEER}`)).toBeUndefined()
    expect(why(lan, `/ip4/224.0.0.1/tcp/80/p2p/${PEER}`)).toMatch(/multicast/) // never
    expect(why(lan, `/ip4/240.0.0.1/tcp/80/p2p/${PEER}`)).toMatch(/reserved/) // never
    const names = rules({ allowNames: true })
    expect(why(names, `/dns4/example.com/tcp/443/wss/p2p/${PEER}`)).toBeUndefined()
    expect(why(names, `/dnsaddr/example.com/p2p/${PEER}`)).toBeUndefined()
    const relayedOnly = rules({ transports: ['relayed'] })
    expect(why(relayedOnly, `/ip4/8.8.8.8/tcp/4001/p2p/${PEER}`)).toMatch(/tcp is not allowed/)
    expect(why(relayedOnly, `${RELAY_WS}/p2p-circuit/webrtc/p2p/${PEER}`)).toMatch(/webrtc is not allowed/)
    expect(why(relayedOnly, `${RELAY_WS}/p2p-circuit/p2p/${PEER}`)).toBeUndefined()
    expect(why(relayedOnly, RELAY_WS)).toBeUndefined() // relays still
    const browser = new DialRules(undefined, [RELAY_WS], ['webrtc', 'relayed'])
    expect(why(browser, `/ip4/8.8.8.8/tcp/443/wss/p2p/${PEER}`)).toMatch(/websocket is not allowed/)
  })

  it('bad options are TypeErrors naming the field', () => {
    expect(() => rules(undefined, ['not-a-multiaddr'])).not.toThrow() // the NetworkManager names a bad relay
    expect(() => rules({ transports: ['carrier-pigeon' as never] })).toThrow(/dialPolicy.transports/)
    expect(() => rules({ allowPrivate: 'yes' as never })).toThrow(/dialPolicy.allowPrivate must be a boolean/)
    expect(() => rules(7 as never)).toThrow(/dialPolicy must be an object/)
  })

  it('the gater composes with a user gater: both must allow, other hooks kept', async () => {
    const seen: string[] = []
    const denyPeer = async () => true
    const g = dialPolicyGater(rules({ allowPrivate: true }), {
      denyDialMultiaddr: async (ma) => {
        seen.push(ma.toString())
        return ma.toString().includes('/tcp/6666')
      },
      denyDialPeer: denyPeer,
    })
    expect(g.denyDialPeer).toBe(denyPeer)
    expect(await g.denyDialMultiaddr?.(multiaddr(`/ip4/127.0.0.1/tcp/1/p2p/${PEER}`))).toBe(false)
    expect(await g.denyDialMultiaddr?.(multiaddr(`/ip4/127.0.0.1/tcp/6666/p2p/${PEER}`))).toBe(true)
    // refused by the rules: the user's gater is not even asked
    expect(await g.denyDialMultiaddr?.(multiaddr(`/ip4/224.0.0.1/tcp/1/p2p/${PEER}`))).toBe(true)
    expect(seen).toHaveLength(2)
    // no user gater: the rules alone
    const lines: string[] = []
    const plain = dialPolicyGater(rules(), undefined, (l) => lines.push(l))
    expect(await plain.denyDialMultiaddr?.(multiaddr(`/ip4/127.0.0.1/tcp/1/p2p/${PEER}`))).toBe(true)
    expect(lines[0]).toMatch(/loopback/)
  })
})
