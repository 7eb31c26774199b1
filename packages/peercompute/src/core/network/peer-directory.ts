import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import type { PeerRecord } from '../wire/registry.js'
import type { DialRules } from './dial-policy.js'

/** A peer known from the registries, with the addresses this node may dial. */
export interface KnownPeer {
  record: PeerRecord
  /** The record's addresses that parse and that the dial policy allows, in announced order. */
  dialable: Multiaddr[]
}

const isCircuit = (a: Multiaddr) => a.getComponents().some((c) => c.name === 'p2p-circuit')
const isWebRtc = (a: Multiaddr) => a.getComponents().some((c) => c.name === 'webrtc')
const isWs = (a: Multiaddr) => a.getComponents().some((c) => c.name === 'ws' || c.name === 'wss')
const isTcp = (a: Multiaddr) => a.getComponents().some((c) => c.name === 'tcp')

/**
 * The peers the registries list. Each record's addresses are parsed and checked
 * against the dial policy once, when the record arrives: everything that picks
 * an address to dial picks from `dialable` only, so a node never dials an
 * address it could not parse or that its policy forbids.
 */
export class PeerDirectory {
  private readonly peers = new Map<string, KnownPeer>()
  private readonly rules: DialRules

  constructor(rules: DialRules) {
    this.rules = rules
  }

  /** Stores (or replaces) a record; true if the peer was not known before. */
  set(record: PeerRecord): boolean {
    const dialable: Multiaddr[] = []
    for (const a of record.addrs) {
      try {
        const ma = multiaddr(a)
        if (this.rules.allows(ma)) dialable.push(ma)
      } catch {
        // not a multiaddr: never dialled (the registry decoder drops these already)
      }
    }
    const known = this.peers.has(record.id)
    this.peers.set(record.id, { record, dialable })
    return !known
  }

  /** Forgets a peer; true if it was known. */
  delete(id: string): boolean {
    return this.peers.delete(id)
  }

  has(id: string): boolean {
    return this.peers.has(id)
  }

  /** Every known peer id. */
  ids(): string[] {
    return [...this.peers.keys()]
  }

  /** Every known record. */
  records(): PeerRecord[] {
    return [...this.peers.values()].map((p) => p.record)
  }

  /** The allowed addresses that connect without a relay in the path: WebRTC (signalled over a relay), then TCP. */
  directAddrs(id: string): Multiaddr[] {
    const d = this.peers.get(id)?.dialable ?? []
    return [...d.filter(isWebRtc), ...d.filter((a) => isTcp(a) && !isCircuit(a) && !isWs(a))]
  }

  /** An allowed circuit address (through one of our relays), for a relayed connection. */
  relayedAddr(id: string): Multiaddr | undefined {
    return this.peers.get(id)?.dialable.find((a) => isCircuit(a) && !isWebRtc(a))
  }

  /** The address to open a new connection on when none is open: any but WebRTC first. */
  dialAddr(id: string): Multiaddr | undefined {
    const d = this.peers.get(id)?.dialable ?? []
    return d.find((a) => !isWebRtc(a)) ?? d[0]
  }
}
