import type { Connection, Stream } from '@libp2p/interface'
import { ProtocolError } from '../errors.js'
import type { NetworkManager } from '../network/network-manager.js'
import { CHUNK_FRAME_MAX } from '../wire/chunks.js'
import { encodeFrame, FrameDecoder } from '../wire/frames.js'
import { STATE_PROTOCOL } from './messages.js'
import type { StateLink, StateManager } from './state-manager.js'

/** What a peer that does not read may leave queued on a state stream before the stream is reset. */
const MAX_WRITE_BUFFER = 32 << 20

/**
 * A StateLink over a libp2p stream: each ≤16 KiB state frame length-prefixed
 * (streams keep no message boundaries). Broken framing resets the stream and
 * closes the link with a reason; once closed, nothing more is read.
 */
export function streamLink(stream: Stream, remotePeer: string): StateLink {
  const decoder = new FrameDecoder(CHUNK_FRAME_MAX + 8)
  const closers: Array<(reason?: string) => void> = []
  let closed = false
  const finish = (reason?: string) => {
    if (closed) return
    closed = true
    for (const c of closers) c(reason)
  }
  stream.maxWriteBufferLength = MAX_WRITE_BUFFER
  stream.addEventListener('close', () => finish())
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
        if (closed) return
        let frames: Uint8Array[]
        try {
          frames = decoder.push(e.data)
        } catch (err) {
          finish((err as Error).message) // before abort: its close event would end the link without a reason
          stream.abort(err as Error)
          return
        }
        try {
          for (const f of frames) if (!closed) cb(f)
        } catch (err) {
          // the receiver is built not to throw; if it does, this peer's link ends, not the process
          finish(`internal error: ${(err as Error).message}`)
          stream.abort(err as Error)
        }
      })
    },
    onClose(cb) {
      closers.push(cb)
    },
    close(reason) {
      if (closed) return
      finish()
      if (reason) stream.abort(new ProtocolError(reason))
      else stream.close().catch(() => stream.abort(new Error('close failed')))
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
    let detach: () => void
    try {
      detach = this.state.attach(link)
    } catch (err) {
      // the state manager was stopped first
      this.linked.delete(peer)
      stream.abort(err as Error)
      return
    }
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
      const claim = () => {}
      this.linked.set(peer, claim) // claimed while the stream opens
      this.net.dialProtocol(peer, STATE_PROTOCOL).then(
        (stream) => this.adopt(stream, peer),
        () => {
          if (this.linked.get(peer) === claim) this.linked.delete(peer)
        },
      )
    }
  }
}
