import type { Connection, StreamHandler } from '@libp2p/interface'
import { ProtocolError, TaskTimeoutError } from '../errors.js'

/**
 * Round-trip time: the dialer sends 8 bytes, the listener echoes them. Ours
 * rather than libp2p's ping service, whose handler leaves a timer armed that
 * later aborts the stream from inside an abort listener (an uncaught exception
 * in Node, seen on WebRTC streams under load).
 */
export const RTT_PROTOCOL = '/peercompute/rtt/1.0.0'
const RTT_BYTES = 8

/** The listener side: echo at most 8 bytes, then close. */
export const rttHandler: StreamHandler = (stream) => {
  let got = 0
  stream.addEventListener('message', (e) => {
    const d = e.data.subarray()
    got += d.length
    if (got > RTT_BYTES) {
      stream.abort(new ProtocolError(`rtt: more than ${RTT_BYTES} bytes`))
      return
    }
    // a listener must not throw: a stream that is closing refuses writes
    try {
      stream.send(d)
    } catch (err) {
      stream.abort(err as Error)
    }
  })
  stream.addEventListener('remoteCloseWrite', () => {
    stream.close().catch(() => stream.abort(new ProtocolError('rtt: close failed')))
  })
}

/** Measures one round trip over `conn`, in ms; rejects with `TaskTimeoutError` after `timeoutMs`. */
export async function measureRtt(conn: Connection, timeoutMs: number): Promise<number> {
  const ac = new AbortController()
  const timer = setTimeout(() => ac.abort(new TaskTimeoutError(`no RTT echo within ${timeoutMs} ms`)), timeoutMs)
  try {
    const stream = await conn.newStream(RTT_PROTOCOL, { runOnLimitedConnection: true, signal: ac.signal })
    const nonce = Uint8Array.from({ length: RTT_BYTES }, () => Math.floor(Math.random() * 256))
    let got = 0
    const echoed = new Promise<void>((resolve, reject) => {
      stream.addEventListener('message', (e) => {
        got += e.data.byteLength
        if (got >= RTT_BYTES) resolve()
      })
      stream.addEventListener('close', () => reject(new ProtocolError('rtt: stream closed before the echo')))
      ac.signal.addEventListener('abort', () => reject(ac.signal.reason), { once: true })
    })
    // observed at once: if send() throws, the stream's close event must not become an unhandled rejection
    echoed.catch(() => {})
    const t0 = performance.now()
    try {
      stream.send(nonce)
      await echoed
    } catch (err) {
      stream.abort(err as Error)
      throw err
    }
    const rtt = performance.now() - t0
    stream.close().catch(() => stream.abort(new ProtocolError('rtt: close failed')))
    return rtt
  } finally {
    clearTimeout(timer)
  }
}
