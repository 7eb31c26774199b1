import type { Stream } from '@libp2p/interface'
import { InvalidOptionError, ProtocolError } from '../errors.js'
import { bundleChunks, CODE_FRAME_MAX, decodeCodeRequest, encodeCodeHead } from '../wire/code.js'
import { encodeFrame, FrameDecoder } from '../wire/frames.js'
import { decodeBundle } from './bundle-format.js'
import { bundleName } from './bundle-name.js'
import { formatPublicKey } from './keys.js'
import type { CodeManifest } from './manifest.js'

/** Most bundles one node publishes (each is held in memory to serve). */
export const MAX_PUBLISHED = 256

/** A bundle this node published: its name, signer and manifest (not verified against any trust: that is the executor's). */
export interface PublishedBundle {
  name: string
  publicKey: string
  manifest: CodeManifest
}

/** How long a peer has to send its request, ms. */
const REQUEST_MS = 10_000

/**
 * The bundles a submitter published, served over the code protocol to the
 * executors its tasks went to. Serving a bundle is a read of bytes already
 * held: one request per stream, answered in CODE_CHUNK_BYTES chunks.
 */
export class CodeServer {
  private readonly bundles = new Map<string, { bytes: Uint8Array; info: PublishedBundle }>()

  /** Adds a bundle (its shape checked; `InvalidOptionError` for one that is not a bundle); returns its name. */
  async publish(bundle: Uint8Array): Promise<PublishedBundle> {
    if (!(bundle instanceof Uint8Array)) throw new InvalidOptionError('publish takes a bundle as a Uint8Array')
    let decoded: ReturnType<typeof decodeBundle>
    try {
      decoded = decodeBundle(bundle)
    } catch (err) {
      throw new InvalidOptionError(`not a signed bundle: ${(err as Error).message}`, { cause: err })
    }
    const bytes = new Uint8Array(bundle)
    const name = await bundleName(bytes)
    const info = { name, publicKey: formatPublicKey(decoded.publicKey), manifest: decoded.manifest }
    if (!this.bundles.has(name) && this.bundles.size >= MAX_PUBLISHED)
      throw new InvalidOptionError(`at most ${MAX_PUBLISHED} bundles may be published`)
    this.bundles.set(name, { bytes, info })
    return info
  }

  /** A published bundle's details. */
  get(name: string): PublishedBundle | undefined {
    return this.bundles.get(name)?.info
  }

  /** Names of the published bundles signed by one of `keys`. */
  namesSignedBy(keys: readonly string[]): string[] {
    const out: string[] = []
    for (const [name, b] of this.bundles) if (keys.includes(b.info.publicKey)) out.push(name)
    return out
  }

  /** The bytes of a published bundle (this node's own tasks run it without a fetch). */
  bytes(name: string): Uint8Array | undefined {
    return this.bundles.get(name)?.bytes
  }

  /** Answers one code stream: a request frame in, the head and chunks out; anything else resets it. */
  serve(stream: Stream): void {
    const decoder = new FrameDecoder(CODE_FRAME_MAX)
    let answered = false
    const timer = setTimeout(() => stream.abort(new ProtocolError('no code request in time')), REQUEST_MS)
    stream.addEventListener('close', () => clearTimeout(timer))
    stream.addEventListener('message', (evt) => {
      if (answered) return
      try {
        const frames = decoder.push(evt.data)
        if (frames.length === 0) return
        answered = true
        clearTimeout(timer)
        const name = decodeCodeRequest(frames[0])
        this.answer(stream, name).catch((err) => stream.abort(err))
      } catch (err) {
        answered = true
        stream.abort(err as Error)
      }
    })
  }

  /** Forgets every bundle. */
  clear(): void {
    this.bundles.clear()
  }

  private async answer(stream: Stream, name: string): Promise<void> {
    const held = this.bundles.get(name)
    const frames = held
      ? [encodeCodeHead({ found: true, length: held.bytes.length }), ...bundleChunks(held.bytes)]
      : [encodeCodeHead({ found: false })]
    for (const f of frames) if (!stream.send(encodeFrame(f))) await stream.onDrain()
    await stream.close()
  }
}
