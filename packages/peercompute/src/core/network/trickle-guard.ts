import type { Connection, Stream } from '@libp2p/interface'
import { TrickledFrameError } from '../errors.js'

/** Connections being closed here: aborting one aborts its streams, whose close events come back here. */
const closing = new WeakSet<Connection>()

/**
 * Closes `conn` when `stream` is reset here for a trickled frame
 * (`TrickledFrameError`, from the stream's FrameDecoder). What a trickle costs
 * is libp2p's decryption and muxing of each tiny message, which a fresh
 * stream on the same connection would start again; a fresh connection costs
 * the peer a handshake, and libp2p limits how fast one address opens them.
 */
export function closeConnectionOnTrickle(stream: Stream, conn: Connection, log?: (line: string) => void): void {
  stream.addEventListener('close', (evt) => {
    const { local, error } = evt as { local?: boolean; error?: Error }
    if (!local || !(error instanceof TrickledFrameError) || closing.has(conn) || conn.status !== 'open') return
    closing.add(conn)
    log?.(`closing the connection to ${conn.remotePeer.toString()}: ${error.message}`)
    try {
      conn.abort(error)
    } catch (err) {
      // a listener must not throw: the connection is going down whatever its muxer says on the way
      log?.(`closing the connection to ${conn.remotePeer.toString()}: ${(err as Error).message}`)
    }
  })
}

/** Opens a stream for `protocol` on `conn`, guarded by closeConnectionOnTrickle. */
export async function newGuardedStream(
  conn: Connection,
  protocol: string,
  opts: { signal?: AbortSignal; runOnLimitedConnection?: boolean },
  log?: (line: string) => void,
): Promise<Stream> {
  const stream = await conn.newStream(protocol, opts)
  closeConnectionOnTrickle(stream, conn, log)
  return stream
}
