import type { Stream } from '@libp2p/interface'
import { ProtocolError } from '../errors.js'
import { encodeFrame, FrameDecoder } from './frames.js'

/** Callbacks of a FramedStream. */
export interface FramedStreamHandlers<M> {
  onMessage(msg: M): void
  /** The stream ended (`err` set if it failed, e.g. a `ProtocolError` from the peer's bytes). */
  onClose?(err?: Error): void
}

/**
 * Typed messages over a libp2p stream: each one a length-prefixed frame, decoded
 * by a pure function. A malformed or oversized frame aborts this stream only.
 */
export class FramedStream<M> {
  readonly stream: Stream
  private readonly encode: (m: M) => Uint8Array
  private readonly decoder: FrameDecoder
  private closed = false

  constructor(
    stream: Stream,
    codec: { encode(m: M): Uint8Array; decode(b: Uint8Array): M; maxFrame: number },
    handlers: FramedStreamHandlers<M>,
  ) {
    this.stream = stream
    this.encode = codec.encode
    const decoder = new FrameDecoder(codec.maxFrame)
    this.decoder = decoder
    const finish = (err?: Error) => {
      if (this.closed) return
      this.closed = true
      handlers.onClose?.(err)
    }
    stream.addEventListener('message', (evt) => {
      try {
        for (const frame of decoder.push(evt.data)) handlers.onMessage(codec.decode(frame))
      } catch (err) {
        const e = err instanceof ProtocolError ? err : new ProtocolError((err as Error).message)
        stream.abort(e)
        finish(e)
      }
    })
    stream.addEventListener('close', (evt) => finish((evt as { error?: Error }).error))
  }

  /** True once the stream has ended. */
  get isClosed(): boolean {
    return this.closed
  }

  /** Bytes received and held waiting for the rest of a frame (at most the codec's maxFrame). */
  get bufferedBytes(): number {
    return this.decoder.buffered
  }

  /** Sends a message, waiting for the buffer to drain if it is full. */
  async send(msg: M, signal?: AbortSignal): Promise<void> {
    if (this.closed) throw new ProtocolError('stream is closed')
    if (!this.stream.send(encodeFrame(this.encode(msg)))) await this.stream.onDrain({ signal })
  }

  /** Closes gracefully. */
  async close(): Promise<void> {
    this.closed = true
    await this.stream.close().catch(() => this.stream.abort(new Error('close failed')))
  }
}
