import type { Stream } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'

/**
 * Writes frames to a stream, coalescing those written in the same microtask
 * turn into one `send` (one muxer frame, one encryption, one socket write):
 * many small tasks in flight then cost little more than one. Honours
 * back-pressure: while the stream's buffer is full, `write` waits for it to drain.
 */
export class CorkedWriter {
  private readonly stream: Stream
  /** Frames written in one turn go out together up to this many bytes a send. */
  private readonly maxSendBytes: number
  private parts: Array<Uint8Array | Uint8ArrayList> = []
  private size = 0
  private scheduled = false
  private blocked = false
  private waiters = 0

  /** `maxSendBytes`: what one send may gather (the protocol's write size, e.g. TASK_WRITE_BYTES). */
  constructor(stream: Stream, maxSendBytes: number) {
    this.stream = stream
    this.maxSendBytes = maxSendBytes
  }

  /**
   * Queues `frame` (bytes, or a list of parts: sent as they are, not joined);
   * resolves once the stream can take more. Throws if the stream is no longer writable.
   */
  async write(frame: Uint8Array | Uint8ArrayList, signal?: AbortSignal): Promise<void> {
    if (this.blocked) {
      this.waiters++
      try {
        while (this.blocked) await this.stream.onDrain({ signal })
      } finally {
        this.waiters--
      }
    }
    this.parts.push(frame)
    this.size += frame.byteLength
    if (this.size >= this.maxSendBytes) this.flush()
    else if (!this.scheduled) {
      this.scheduled = true
      queueMicrotask(() => this.flush())
    }
  }

  /** Writes waiting for the stream to drain (a peer that does not read makes them pile up). */
  get waiting(): number {
    return this.waiters
  }

  /** Sends what is queued now. */
  flush(): void {
    this.scheduled = false
    if (this.parts.length === 0) return
    // several writes go as one list of their parts: the muxer and noise take it part by part, no copy
    const out = this.parts.length === 1 ? this.parts[0] : new Uint8ArrayList(...this.parts)
    this.parts = []
    this.size = 0
    if (this.stream.status !== 'open' || this.stream.writeStatus !== 'writable') return
    // libp2p's own uint8arraylist is a newer major: lists are told apart by a shared symbol, not the class
    if (!this.stream.send(out as Parameters<Stream['send']>[0])) {
      this.blocked = true
      this.stream.onDrain().then(
        () => {
          this.blocked = false
        },
        () => {
          this.blocked = false
        },
      )
    }
  }
}
