import { describe, expect, it } from 'vitest'
import type { PeerRecord } from '../wire/registry.js'
import { DialRules } from './dial-policy.js'
import { PeerDirectory } from './peer-directory.js'

const RELAY = '12D3KooWPZafoiKxyEdJgp6pef7m5cpgTtaQS9eQHhEpek7CjRYo'
const PEER = '12D3KooWSzNAMgSZ86hXPmcDAXg7fLHCicsypzJQBGoVotzqCjxz'
const RELAY_ADDR = `/ip4/8.8.4.4/tcp/443/wss/p2p/${RELAY}`

const record = (addrs: string[]): PeerRecord => ({
  id: PEER,
  addrs,
  caps: { cores: 1, memoryMb: 1, gpu: false, kernels: [], substrate: 'node', price: { model: 'free', usd: 0 } },
  load: { running: 0, queued: 0 },
})

describe('PeerDirectory', () => {
  it('keeps every record but only the addresses that parse and that the policy allows, in dialling order', () => {
    const dir = new PeerDirectory(new DialRules(undefined, [RELAY_ADDR]))
    const circuit = `${RELAY_ADDR}/p2p-circuit/p2p/${PEER}`
    const webrtc = `${RELAY_ADDR}/p2p-circuit/webrtc/p2p/${PEER}`
    const tcp = `/ip4/8.8.8.8/tcp/4001/p2p/${PEER}`
    // a record that bypassed the registry decoder: nothing here may throw
    expect(
      dir.set(
        record([
          'not-a-multiaddr',
          `/ip4/127.0.0.1/tcp/4001/p2p/${PEER}`,
          `/ip4/169.254.169.254/tcp/80/p2p/${PEER}`,
          circuit,
          tcp,
          `/ip4/8.8.8.8/tcp/4002/ws/p2p/${PEER}`,
          webrtc,
        ]),
      ),
    ).toBe(true)
    expect(dir.has(PEER)).toBe(true)
    expect(dir.records()[0].addrs).toHaveLength(7) // the record as announced, for status and events
    expect(dir.directAddrs(PEER).map(String)).toEqual([webrtc, tcp])
    expect(dir.relayedAddr(PEER)?.toString()).toBe(circuit)
    expect(dir.dialAddr(PEER)?.toString()).toBe(circuit)
    expect(dir.set(record([]))).toBe(false) // an update, not a join
    expect(dir.directAddrs(PEER)).toEqual([])
    expect(dir.relayedAddr(PEER)).toBeUndefined()
    expect(dir.dialAddr(PEER)).toBeUndefined()
    expect(dir.delete(PEER)).toBe(true)
    expect(dir.ids()).toEqual([])
  })
})
