import type { Stream } from '@libp2p/interface'
import { concatBytes } from './frames.js'

/** Frames written in one turn of the event loop go out together, up to this many bytes per send. */
const BATCH_BYTES = 64 * 1024

/**
 * Writes frames to a stream, coalescing those written in the same microtask
 * turn into one `send` (one muxer frame, one encryption, one socket write):
 * many small tasks in flight then cost little more than one. Honours
 * back-pressure: while the stream's buffer is full, `write` waits for it to drain.
 */
export class CorkedWriter {
  private readonly stream: Stream
  private parts: Uint8Array[] = []
  private size = 0
  private scheduled = false
  private blocked = false
  private waiters = 0

  constructor(stream: Stream) {
    this.stream = stream
  }

  /** Queues `frame`; resolves once the stream can take more. Throws if the stream is no longer writable. */
  async write(frame: Uint8Array, signal?: AbortSignal): Promise<void> {
    if (this.blocked) {
      this.waiters++
      try {
        while (this.blocked) await this.stream.onDrain({ signal })
      } finally {
        this.waiters--
      }
    }
    this.parts.push(frame)
    this.size += frame.length
    if (this.size >= BATCH_BYTES) this.flush()
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
    const out = this.parts.length === 1 ? this.parts[0] : concatBytes(this.parts)
    this.parts = []
    this.size = 0
    if (this.stream.status !== 'open' || this.stream.writeStatus !== 'writable') return
    if (!this.stream.send(out)) {
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
