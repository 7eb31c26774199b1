import type { Context } from 'hono'
import { type SSEStreamingApi, streamSSE } from 'hono/streaming'

/** Limits of `GET /api/dashboard/stream`. */
export interface DashboardStreamLimits {
  /** Streams open at once, process-wide; beyond, 503. */
  maxStreams: number
  /** Streams open at once from one IP address; beyond, 503. */
  maxStreamsPerIp: number
  /** A snapshot every this many ms. */
  intervalMs: number
  /** A client that has not taken a snapshot within this many ms is cut off (it frees its slot). */
  writeTimeoutMs: number
  /** Most links in one snapshot. */
  maxLinks: number
}

/** Defaults: 64 dashboards, 8 per IP, a snapshot a second. */
export const DEFAULT_DASHBOARD_STREAM_LIMITS: DashboardStreamLimits = {
  maxStreams: 64,
  maxStreamsPerIp: 8,
  intervalMs: 1000,
  writeTimeoutMs: 30_000,
  maxLinks: 20_000,
}

/**
 * The dashboard's server-sent events: a `snapshot` at once and then every
 * `intervalMs`. Each stream awaits its own write, so a client that does not
 * read holds at most one snapshot, and is cut off after `writeTimeoutMs`.
 * Snapshots are made at most once per interval per kind (with or without
 * addresses), whatever the number of streams.
 */
export class DashboardStreams {
  private readonly open = new Set<SSEStreamingApi>()
  private readonly perIp = new Map<string, number>()
  private readonly cache = new Map<boolean, { at: number; json: string }>()
  private stopped = false
  /** Streams cut off because the client did not take a snapshot in time, since start. */
  cutOff = 0
  private readonly limits: DashboardStreamLimits
  private readonly snapshot: (withAddrs: boolean) => unknown

  /** `snapshot` makes the event's data; it is called at most once per half interval per kind. */
  constructor(limits: DashboardStreamLimits, snapshot: (withAddrs: boolean) => unknown) {
    this.limits = limits
    this.snapshot = snapshot
  }

  /** Streams open now. */
  get size(): number {
    return this.open.size
  }

  /** Answers one request: a stream, or 503 over budget. */
  handle(c: Context, ip: string, withAddrs: boolean): Response {
    const fromIp = this.perIp.get(ip) ?? 0
    if (this.stopped || this.open.size >= this.limits.maxStreams || fromIp >= this.limits.maxStreamsPerIp) {
      c.header('retry-after', '10')
      c.header('cache-control', 'no-store')
      return c.json(
        {
          error: this.stopped
            ? 'the relay is stopping'
            : `too many dashboard streams (at most ${this.limits.maxStreams}, ${this.limits.maxStreamsPerIp} per IP address)`,
        },
        503,
      )
    }
    this.perIp.set(ip, fromIp + 1)
    let slot = true
    const release = (stream: SSEStreamingApi) => {
      this.open.delete(stream)
      if (!slot) return
      slot = false
      const n = (this.perIp.get(ip) ?? 1) - 1
      if (n <= 0) this.perIp.delete(ip)
      else this.perIp.set(ip, n)
    }
    c.header('x-accel-buffering', 'no')
    return streamSSE(c, async (stream) => {
      this.open.add(stream)
      const ended = new AbortController()
      stream.onAbort(() => {
        ended.abort()
        release(stream)
      })
      try {
        while (!stream.aborted && !stream.closed && !this.stopped) {
          const data = this.json(withAddrs)
          if (!(await this.writeWithin(stream, data))) {
            this.cutOff++
            stream.abort()
            break
          }
          await this.pause(ended.signal)
        }
      } finally {
        release(stream)
      }
    })
  }

  /** Ends every stream; new ones get 503. */
  stop(): void {
    this.stopped = true
    for (const s of this.open) s.abort()
    this.open.clear()
    this.perIp.clear()
    this.cache.clear()
  }

  private json(withAddrs: boolean): string {
    const now = Date.now()
    const hit = this.cache.get(withAddrs)
    if (hit && now - hit.at < this.limits.intervalMs / 2) return hit.json
    const json = JSON.stringify(this.snapshot(withAddrs))
    this.cache.set(withAddrs, { at: now, json })
    return json
  }

  /** True if the client took the snapshot in time. */
  private async writeWithin(stream: SSEStreamingApi, data: string): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const late = new Promise<false>((r) => {
      timer = setTimeout(() => r(false), this.limits.writeTimeoutMs)
    })
    try {
      return await Promise.race([stream.writeSSE({ event: 'snapshot', data }).then(() => true as const), late])
    } finally {
      clearTimeout(timer)
    }
  }

  /** Waits one interval, or less if the stream ends or the relay stops. */
  private pause(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, this.limits.intervalMs)
      signal.addEventListener('abort', done)
    })
  }
}
