/** Limits of an SseHub. */
export interface SseLimits {
  /** Streams open at once, all clients together (default 256). */
  maxStreams: number
  /** Streams one client (IP address) may hold (default 32). */
  maxPerClient: number
  /** Unsent bytes a stream may hold before its reader is judged too slow and dropped (default 256 KiB). */
  maxBacklogBytes: number
  /** A comment line this often keeps proxies from closing an idle stream, ms (default 15 s). */
  keepAliveMs: number
}

/** Defaults: see SseLimits. */
export const DEFAULT_SSE_LIMITS: SseLimits = {
  maxStreams: 256,
  maxPerClient: 32,
  maxBacklogBytes: 256 << 10,
  keepAliveMs: 15_000,
}

/** One open event stream. */
export interface SseStream {
  /** Queues an event; false (and the stream is closed) if the reader is too far behind, or it was closed. */
  send(event: string, data: unknown): boolean
  /** Ends the stream. */
  close(): void
  readonly closed: boolean
}

const encoder = new TextEncoder()

/**
 * Server-sent event streams, bounded: at most `maxStreams` at once and
 * `maxPerClient` per client, each holding at most `maxBacklogBytes` unsent.
 * A reader slower than that is dropped, never buffered for.
 */
export class SseHub {
  private readonly limits: SseLimits
  private readonly streams = new Set<SseStream>()
  private readonly perClient = new Map<string, number>()
  private readonly timer: ReturnType<typeof setInterval>
  /** Streams dropped because their reader fell behind. */
  dropped = 0

  constructor(limits: Partial<SseLimits> = {}) {
    this.limits = { ...DEFAULT_SSE_LIMITS }
    for (const [k, x] of Object.entries(limits)) if (x !== undefined) this.limits[k as keyof SseLimits] = x
    this.timer = setInterval(() => {
      for (const s of [...this.streams]) (s as StreamImpl).comment('keep-alive')
    }, this.limits.keepAliveMs)
    this.timer.unref()
  }

  /** Streams open now. */
  get size(): number {
    return this.streams.size
  }

  /**
   * Opens a stream for `client`: `setup` sends the first events and returns
   * what to run when the stream ends. Undefined when a limit is reached (answer 503).
   */
  open(client: string, setup: (s: SseStream) => () => void): Response | undefined {
    if (this.streams.size >= this.limits.maxStreams) return undefined
    const mine = this.perClient.get(client) ?? 0
    if (mine >= this.limits.maxPerClient) return undefined
    this.perClient.set(client, mine + 1)
    let impl: StreamImpl | undefined
    const body = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          impl = new StreamImpl(controller, () => {
            this.streams.delete(impl as StreamImpl)
            const n = (this.perClient.get(client) ?? 1) - 1
            if (n <= 0) this.perClient.delete(client)
            else this.perClient.set(client, n)
          })
          impl.onSlow = () => this.dropped++
          this.streams.add(impl)
          impl.comment('open')
          try {
            impl.cleanup = setup(impl)
          } catch (err) {
            impl.close()
            throw err
          }
        },
        cancel: () => impl?.close(),
      },
      new ByteLengthQueuingStrategy({ highWaterMark: this.limits.maxBacklogBytes }),
    )
    return new Response(body, {
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-accel-buffering': 'no',
      },
    })
  }

  /** Closes every stream. */
  stop(): void {
    clearInterval(this.timer)
    for (const s of [...this.streams]) s.close()
  }
}

class StreamImpl implements SseStream {
  closed = false
  cleanup?: () => void
  onSlow?: () => void
  private readonly controller: ReadableStreamDefaultController<Uint8Array>
  private readonly onClose: () => void
  constructor(controller: ReadableStreamDefaultController<Uint8Array>, onClose: () => void) {
    this.controller = controller
    this.onClose = onClose
  }

  send(event: string, data: unknown): boolean {
    return this.push(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`)
  }

  comment(text: string): boolean {
    return this.push(`: ${text}\n\n`)
  }

  private push(text: string): boolean {
    if (this.closed) return false
    const bytes = encoder.encode(text)
    const room = this.controller.desiredSize ?? 0
    if (room < bytes.length) {
      // the reader is this far behind: drop it rather than hold more for it
      this.onSlow?.()
      this.close()
      return false
    }
    this.controller.enqueue(bytes)
    return true
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    try {
      this.controller.close()
    } catch {
      // already closed or cancelled by the reader
    }
    this.onClose()
    this.cleanup?.()
  }
}
