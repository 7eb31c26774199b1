// Attacks with traveling code: a plain js-libp2p peer asks the victim to run
// bundles it serves itself over the code protocol (through the wire codecs
// only): tampered code, a tampered manifest, an unknown key, an expired bundle,
// a forged signature, bytes that are not the named bundle, a malformed bundle;
// each named directly and by a map batch (`@map` with `params.kernel`).
// Each is refused with UntrustedCodeError, nothing runs, the victim goes on
// serving an honest submitter's signed kernel, and no error goes unhandled.
import {
  bundleName,
  CODE_PROTOCOL,
  decodeBundle,
  decodeTaskMessage,
  encodeBundle,
  encodeTaskMessage,
  encodeValues,
  generatePublisherKey,
  importPublisherKey,
  MAP_KERNEL,
  signBundle,
  TASK_PROTOCOL,
} from 'peercompute'
import { afterEach, describe, expect, it } from 'vitest'
import { waitFor } from '../integration/helpers.js'
import { startAttacker } from './attacker.js'
import { loopbackTcpAddr, serveBundles, startCodeVictim } from './code-victim.js'

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const SUM = new TextEncoder().encode(
  'export default (input) => { let s = 0; for (const b of input) s += b; return s }\n',
)
const EVIL = new TextEncoder().encode('export default () => "pwned"\n')

describe('hostile peers serving traveling code', () => {
  it('tampered code or manifest, unknown key, expired, forged signature, wrong bytes, malformed: UntrustedCodeError, the victim serves on', async () => {
    const { unhandled, pub, key, victim, honest } = await startCodeVictim(cleanups, { enableWebGPU: false })
    const addr = loopbackTcpAddr(victim)

    // the hostile bundles
    const init = { name: 'evil', version: '1', kind: 'kernel' } as const
    const good = await signBundle(EVIL, init, key)
    const parts = decodeBundle(good)
    const codeByte = good.slice()
    codeByte[codeByte.length - 3] ^= 1
    const stranger = await importPublisherKey((await generatePublisherKey()).secretKeyPem)
    const cases: [string, Uint8Array][] = [
      ['tampered code', codeByte],
      ['tampered manifest', encodeBundle({ ...parts, manifest: { ...parts.manifest, version: '2' } })],
      ['unknown key', await signBundle(EVIL, init, stranger)],
      ['expired', await signBundle(EVIL, { ...init, expires: new Date(Date.now() - 60_000) }, key)],
      ['forged signature', encodeBundle({ ...parts, signature: new Uint8Array(64).fill(9) })],
      ['malformed', good.subarray(0, good.length - 1)],
    ]
    const bundles = new Map<string, Uint8Array>()
    const names: string[] = []
    for (const [, bytes] of cases) {
      const name = await bundleName(bytes)
      bundles.set(name, bytes)
      names.push(name)
    }
    // a name whose bytes are the good bundle's: not the code that was named
    const wrong = `bundle:${'B'.repeat(43)}`
    bundles.set(wrong, good)
    names.push(wrong)

    // meanwhile an honest submitter's signed kernel runs on the victim
    const honestName = await honest.publish(await signBundle(SUM, { name: 'sum', version: '1', kind: 'kernel' }, key))
    await waitFor('the honest peer sees the victim trusts the key', () =>
      honest
        .getStatus()
        .peers.some((p) => p.id === victim.peerId && p.caps.kernels.includes(`signed:${pub.publicKey}`)),
    )
    const honestRun = honest.submitTask({ id: 'h', type: 'kernel', kernel: honestName, data: Uint8Array.of(1, 2, 3) })

    const atk = await startAttacker()
    cleanups.push(() => atk.stop())
    await atk.node.handle(CODE_PROTOCOL, (stream) => serveBundles(stream, bundles), { runOnLimitedConnection: true })
    const s = await atk.open(addr, TASK_PROTOCOL)
    // the victim's answers, without the keep-alive frames it sends while a task takes over a second
    const answers = () => s.frames.map((f) => decodeTaskMessage(f)).filter((m) => m.type !== 'alive')
    for (const [i, kernel] of names.entries()) {
      s.frame(
        encodeTaskMessage({
          type: 'request',
          id: i + 1,
          header: { kernel, source: { kind: 'inline', length: 1 }, deadlineMs: 30_000 },
          data: Uint8Array.of(7),
        }),
      )
      // one at a time: fetches from one peer are bounded (fetchesPerPeer); more at once are RateLimitedError
      await waitFor(`hostile task ${i + 1} is answered`, () => answers().length > i)
    }
    // the same bundles named by a map batch: a batch runs where its bundle runs, so it is verified first too
    const batch = encodeValues([1, 2])
    for (const [i, kernel] of names.entries()) {
      s.frame(
        encodeTaskMessage({
          type: 'request',
          id: names.length + i + 1,
          header: {
            kernel: MAP_KERNEL,
            params: { kernel },
            source: { kind: 'inline', length: batch.length },
            deadlineMs: 30_000,
          },
          data: batch,
        }),
      )
      await waitFor(`hostile map batch ${i + 1} is answered`, () => answers().length > names.length + i)
    }
    expect(await honestRun).toMatchObject({ success: true, result: 6, peers: [victim.peerId] })
    const replies = answers()
    expect(replies.map((m) => m.type)).toEqual([...names, ...names].map(() => 'error'))
    for (const m of replies) expect(m, JSON.stringify(m)).toMatchObject({ name: 'UntrustedCodeError' })
    expect(victim.compute.status().executor.failed).toBe(2 * names.length)
    expect(victim.compute.status().executor.completed).toBe(1)
    // the victim serves on: the honest kernel again, from its cache
    const again = await honest.submitTask({ id: 'h2', type: 'kernel', kernel: honestName, data: Uint8Array.of(5) })
    expect(again).toMatchObject({ success: true, result: 5 })
    expect(unhandled.errors).toEqual([])
  })
})
