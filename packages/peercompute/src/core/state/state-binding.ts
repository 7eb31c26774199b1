import type { Connection, Stream } from '@libp2p/interface'
import type { NetworkManager } from '../network/network-manager.js'
import { CHUNK_FRAME_MAX } from '../wire/chunks.js'
import { encodeFrame, FrameDecoder } from '../wire/frames.js'
import { STATE_PROTOCOL } from './messages.js'
import type { StateLink, StateManager } from './state-manager.js'

/** A StateLink over a libp2p stream: each ≤16 KiB state frame length-prefixed (streams keep no message boundaries). */
export function streamLink(stream: Stream, remotePeer: string): StateLink {
  const decoder = new FrameDecoder(CHUNK_FRAME_MAX + 8)
  const closers: Array<() => void> = []
  let closed = false
  const finish = () => {
    if (closed) return
    closed = true
    for (const c of closers) c()
  }
  stream.addEventListener('close', finish)
  return {
    remotePeer,
    send(frame) {
      if (closed) return
      try {
        stream.send(encodeFrame(frame))
      } catch (err) {
        stream.abort(err as Error)
        finish()
      }
    },
    onMessage(cb) {
      stream.addEventListener('message', (e) => {
        try {
          for (const f of decoder.push(e.data.subarray())) cb(f)
        } catch (err) {
          stream.abort(err as Error)
          finish()
        }
      })
    },
    onClose(cb) {
      closers.push(cb)
    },
    close() {
      if (closed) return
      finish()
      stream.close().catch(() => stream.abort(new Error('close failed')))
    },
  }
}

/**
 * Syncs a StateManager with every mesh peer a NetworkManager is connected to
 * (relays excluded): one state stream per peer, opened by the smaller peer id,
 * over whatever connection exists (relayed ones too).
 */
export class StateBinding {
  private readonly state: StateManager
  private readonly net: NetworkManager
  private readonly linked = new Map<string, () => void>()
  private timer?: ReturnType<typeof setInterval>
  private stopped = false

  constructor(state: StateManager, net: NetworkManager) {
    this.state = state
    this.net = net
  }

  async start(): Promise<void> {
    await this.net.handle(
      STATE_PROTOCOL,
      (stream: Stream, conn: Connection) => this.adopt(stream, conn.remotePeer.toString()),
      {
        maxInboundStreams: 2,
      },
    )
    this.net.libp2p.addEventListener('connection:open', this.onConnection)
    // connections made before start, and streams lost while the connection stayed
    this.timer = setInterval(() => this.sweep(), 2000)
    this.sweep()
  }

  stop(): void {
    this.stopped = true
    clearInterval(this.timer)
    this.net.libp2p.removeEventListener('connection:open', this.onConnection)
    for (const detach of this.linked.values()) detach()
    this.linked.clear()
  }

  private adopt(stream: Stream, peer: string): void {
    if (this.stopped) {
      stream.abort(new Error('state binding stopped'))
      return
    }
    this.linked.get(peer)?.()
    const link = streamLink(stream, peer)
    const detach = this.state.attach(link)
    this.linked.set(peer, detach)
    link.onClose(() => {
      if (this.linked.get(peer) === detach) this.linked.delete(peer)
    })
  }

  private readonly onConnection = () => this.sweep()

  private sweep(): void {
    if (this.stopped) return
    const self = this.net.peerId
    const peers = new Set(this.net.libp2p.getConnections().map((c) => c.remotePeer.toString()))
    for (const peer of peers) {
      if (this.net.isRelay(peer) || this.linked.has(peer) || self > peer) continue
      this.linked.set(peer, () => {}) // claimed while the stream opens
      this.net.dialProtocol(peer, STATE_PROTOCOL).then(
        (stream) => this.adopt(stream, peer),
        () => this.linked.delete(peer),
      )
    }
  }
}
