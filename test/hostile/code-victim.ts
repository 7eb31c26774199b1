// What the traveling-code attacks share: a victim that trusts one publisher's
// key, an honest peer beside it, and a code-protocol server the attacker runs
// through the wire codecs only.
import type { Stream } from '@libp2p/interface'
import {
  bundleChunks,
  CODE_FRAME_MAX,
  createNode,
  decodeCodeRequest,
  encodeCodeHead,
  encodeFrame,
  FrameDecoder,
  generatePublisherKey,
  importPublisherKey,
} from 'peercompute'
import { startNodes, TEST_PEER, testRelay } from '../integration/helpers.js'
import { watchUnhandled } from './attacker.js'

/** Serves `bundles` (name → bytes) over the code protocol, as a submitter would (the wire codecs only). */
export function serveBundles(stream: Stream, bundles: Map<string, Uint8Array>): void {
  const decoder = new FrameDecoder(CODE_FRAME_MAX)
  stream.addEventListener('message', (e) => {
    const [req] = decoder.push(e.data.subarray())
    if (!req) return
    const bytes = bundles.get(decodeCodeRequest(req))
    const frames = bytes
      ? [encodeCodeHead({ found: true, length: bytes.length }), ...bundleChunks(bytes)]
      : [encodeCodeHead({ found: false })]
    for (const f of frames) stream.send(encodeFrame(f))
    stream.close().catch(() => {})
  })
}

/**
 * Starts a relay, a victim node that trusts a fresh publisher key (listening on
 * loopback TCP so the attacker can dial it directly) and an honest peer; their
 * stops, and the unhandled-rejection watch, go on `cleanups` in start order.
 */
export async function startCodeVictim(
  cleanups: Array<() => Promise<unknown> | unknown>,
  opts: { enableWebGPU: boolean },
) {
  const unhandled = watchUnhandled()
  cleanups.push(() => unhandled.stop())
  const r = await testRelay()
  cleanups.push(() => r.stop())
  const pub = await generatePublisherKey()
  const key = await importPublisherKey(pub.secretKeyPem)
  const victim = await createNode({
    ...TEST_PEER,
    enableWebGPU: opts.enableWebGPU,
    maxWorkers: 1,
    relays: [r.wsAddr],
    listen: ['/ip4/127.0.0.1/tcp/0'],
    trust: [pub.publicKey],
  })
  await victim.start()
  const [honest] = await startNodes(1, r.wsAddr)
  cleanups.push(() => Promise.all([victim.stop(), honest.stop()]))
  return { unhandled, pub, key, victim, honest }
}

/** The victim's loopback TCP address (not WebSockets, not a relay circuit). */
export function loopbackTcpAddr(victim: Awaited<ReturnType<typeof createNode>>): string {
  const addr = victim.network.libp2p
    .getMultiaddrs()
    .map(String)
    .find((a) => a.startsWith('/ip4/127.0.0.1/tcp/') && !a.includes('/ws') && !a.includes('p2p-circuit'))
  if (!addr) throw new Error('the victim has no loopback TCP address')
  return addr
}
