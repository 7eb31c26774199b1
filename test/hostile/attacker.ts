// The attacker of the hostile-peer suite: a plain js-libp2p node that speaks
// our protocols only through the wire codecs, never through a PeerCompute node,
// so it can send whatever bytes it likes.
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import type { Libp2p, Stream } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { encodeFrame, FrameDecoder } from 'peercompute'

/** A raw stream the attacker writes frames to, with every frame the victim sent back. */
export interface RawStream {
  stream: Stream
  /** Frames received so far (decoded from the length prefix only). */
  frames: Uint8Array[]
  /** Sends `payload` as one length-prefixed frame; false when the stream's buffer is full. */
  frame(payload: Uint8Array): boolean
  /** Sends bytes as they are (no length prefix): broken framing. */
  raw(bytes: Uint8Array): boolean
  /** True once the victim closed or reset the stream. */
  readonly closed: boolean
}

/** An attacking peer. */
export interface Attacker {
  node: Libp2p
  readonly peerId: string
  /** Opens `protocol` on `target` (a multiaddr, or a peer id already connected); limited connections allowed. */
  open(target: string, protocol: string, opts?: { read?: boolean }): Promise<RawStream>
  stop(): Promise<void>
}

/**
 * Starts an attacker that may dial loopback addresses (the victims' relays and
 * peers in the test), over TCP, WebSockets and circuit relay. `listen` (e.g.
 * `['/ip4/127.0.0.1/tcp/0']`) lets victims dial it, to serve them a protocol.
 */
export async function startAttacker(opts: { listen?: string[] } = {}): Promise<Attacker> {
  const node = await createLibp2p({
    addresses: { listen: opts.listen ?? [] },
    transports: [tcp(), webSockets(), circuitRelayTransport()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: async () => false },
    services: { identify: identify() },
  })
  return {
    node,
    get peerId() {
      return node.peerId.toString()
    },
    async open(target, protocol, opts = {}) {
      const to = target.startsWith('/') ? multiaddr(target) : peerIdFromString(target)
      const stream = await node.dialProtocol(to, protocol, {
        runOnLimitedConnection: true,
        signal: AbortSignal.timeout(10_000),
      })
      return rawStream(stream, opts.read ?? true)
    },
    stop: async () => {
      await node.stop()
    },
  }
}

/** Wraps a stream: collects what comes back (unless `read` is false: a peer that never reads). */
export function rawStream(stream: Stream, read = true): RawStream {
  const frames: Uint8Array[] = []
  const decoder = new FrameDecoder(1 << 20)
  let closed = false
  if (read) {
    stream.addEventListener('message', (e) => {
      try {
        frames.push(...decoder.push(e.data.subarray()))
      } catch {
        // the victim's framing is not under test here
      }
    })
  } else stream.pause()
  stream.addEventListener('close', () => {
    closed = true
  })
  return {
    stream,
    frames,
    frame: (payload) => (stream.status === 'open' ? stream.send(encodeFrame(payload)) : false),
    raw: (bytes) => (stream.status === 'open' ? stream.send(bytes) : false),
    get closed() {
      return closed || stream.status !== 'open'
    },
  }
}

/** Collects every unhandled rejection and uncaught exception in this process until `stop()`. */
export function watchUnhandled(): { errors: unknown[]; stop(): void } {
  const errors: unknown[] = []
  const onErr = (e: unknown) => errors.push(e)
  process.on('unhandledRejection', onErr)
  process.on('uncaughtException', onErr)
  return {
    errors,
    stop() {
      process.off('unhandledRejection', onErr)
      process.off('uncaughtException', onErr)
    },
  }
}
