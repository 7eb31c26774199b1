import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import type { ConnectionGater, PrivateKey } from '@libp2p/interface'
import type { Libp2pOptions } from 'libp2p'
import { type DialPolicy, DialRules, dialPolicyGater } from './dial-policy.js'

/** What both platforms' mesh nodes take beyond the NetworkManager's own options. */
export interface MeshLibp2pInit {
  relays: string[]
  maxPeerConnections?: number
  /** The peer's identity (default: a new one each start). */
  privateKey?: PrivateKey
  /**
   * Which addresses learned from peers may be dialled (default: public unicast
   * only; circuits only through `relays`; the configured relays always).
   * A mesh on one machine or LAN (tests, the demo) sets `allowPrivate: true`.
   */
  dialPolicy?: DialPolicy
  /**
   * libp2p's connection gater. It is composed with the dial policy: a dial
   * happens only if both allow it; its other hooks are kept as they are.
   */
  connectionGater?: ConnectionGater
  log?: (line: string) => void
}

/**
 * The libp2p settings every mesh peer shares, around the platform's own
 * transports: one generic `/p2p-circuit` listener per relay (libp2p re-reserves
 * those after a relay restart) and `/webrtc`, noise, yamux, identify; and the
 * dial policy `rules` as libp2p's connection gater, so that every dial libp2p
 * makes (its peer store's addresses included) is checked.
 */
export function meshLibp2pOptions(
  init: MeshLibp2pInit,
  transports: Libp2pOptions['transports'],
  extraListen: string[] = [],
  rules: DialRules = new DialRules(init.dialPolicy, init.relays),
): Libp2pOptions {
  return {
    start: false,
    ...(init.privateKey ? { privateKey: init.privateKey } : {}),
    addresses: { listen: [...init.relays.map(() => '/p2p-circuit'), '/webrtc', ...extraListen] },
    transports,
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { maxConnections: (init.maxPeerConnections ?? 32) * 2 + init.relays.length + 8 },
    connectionGater: dialPolicyGater(rules, init.connectionGater, init.log),
    services: { identify: identify() },
  }
}
