import type { Stream } from '@libp2p/interface'
import { AbortError, KernelNotFoundError, ProtocolError } from '../errors.js'
import { BundleAssembler, CODE_FRAME_MAX, decodeCodeHead, encodeCodeRequest } from '../wire/code.js'
import { encodeFrame, FrameDecoder } from '../wire/frames.js'

/** Opens a protocol stream to a peer (a NetworkManager's `dialProtocol`). */
export type DialProtocol = (peer: string, protocol: string, opts: { signal?: AbortSignal }) => Promise<Stream>

/**
 * Reads one bundle from an open code stream: sends the request, then takes the
 * head and the chunks. `reserve(length)` is asked before anything is held for
 * the bundle (false refuses it: the executor's byte budget is spent). The
 * stream is closed or reset before this settles.
 */
export async function readBundle(
  stream: Stream,
  name: string,
  reserve: (length: number) => boolean,
  signal: AbortSignal,
): Promise<Uint8Array> {
  const decoder = new FrameDecoder(CODE_FRAME_MAX)
  let assembler: BundleAssembler | undefined
  const onAbort = () => stream.abort((signal.reason as Error) ?? new AbortError('the code fetch was aborted'))
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    stream.send(encodeFrame(encodeCodeRequest(name)))
    for await (const chunk of stream) {
      for (const frame of decoder.push(chunk)) {
        if (!assembler) {
          const head = decodeCodeHead(frame)
          if (!head.found) throw new KernelNotFoundError('the submitter does not serve that bundle')
          if (!reserve(head.length)) throw new ProtocolError('refused: the code fetch budget is spent')
          assembler = new BundleAssembler(head.length)
        } else assembler.push(frame)
        if (assembler?.complete) {
          if (decoder.buffered > 0) throw new ProtocolError('bytes after the bundle')
          await stream.close().catch(() => stream.abort(new AbortError('closing')))
          return assembler.bytes()
        }
      }
    }
    if (signal.aborted) throw signal.reason
    throw new ProtocolError('the code stream ended before the bundle did')
  } catch (err) {
    stream.abort(err as Error)
    throw err
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
