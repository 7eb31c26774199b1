// One node per site, in real Chromium (examples/tabs): three tabs of one origin
// run one peer; when the leader tab closes another takes over with the same
// peer id (kept in IndexedDB), and a Node submitter's job that was running on
// that peer meanwhile completes with every piece. Runs only in a namespace whose
// sole interface is loopback (npm test provides one).
import { resolve } from 'node:path'
import * as kernels from '@peercompute/kernels'
import type { NodeKernel } from 'peercompute'
import type { BrowserContext, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { TabsState } from '../examples/tabs/types.ts'
import { loopbackOnly, type testRelay, waitFor } from '../test/integration/helpers.ts'
import { type ExampleServer, haveChromium, setHidden } from './browser.ts'
import { openExamplesInChromium, startRelayAndSubmitter } from './fixtures.ts'
import { serveData } from './static-server.ts'

const PIECE = 256 * 1024

describe.skipIf(!haveChromium || !loopbackOnly)('one node per site: three tabs, one peer', () => {
  let context: BrowserContext
  let server: ExampleServer
  let relay: Awaited<ReturnType<typeof testRelay>>
  let submitter: NodeKernel
  let data: SlowData
  const cleanups: Array<() => Promise<unknown> | unknown> = []

  beforeAll(async () => {
    ;({ relay, submitter } = await startRelayAndSubmitter(cleanups))
    data = await serveSlowly(randomBytes(96 * PIECE), 100)
    cleanups.push(() => data.close())
    // one context: one origin's storage, locks and channels shared by its tabs
    ;({ server, context } = await openExamplesInChromium(cleanups))
  })
  afterAll(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  const open = async (): Promise<Page> => {
    const page = await context.newPage()
    page.on('pageerror', (e) => console.error('page error:', e.message))
    await page.goto(`${server.url}/tabs/?relay=${encodeURIComponent(relay.wsAddr)}`)
    await page.waitForSelector('body[data-ready="true"]', { timeout: 30_000 })
    return page
  }
  const role = (p: Page) => p.evaluate(() => window.tabs.role())
  const stateOf = (p: Page): Promise<TabsState | undefined> => p.evaluate(() => window.tabs.state())
  /** Browser peers in the relay's registry (the Node submitter is the other entry). */
  const browserPeers = () =>
    [...relay.relay.registry.peers.values()].filter((e) => e.record.caps.substrate === 'browser')

  it('the registry shows one peer for three tabs; the leader closes, the same peer id is back, no piece lost', async () => {
    const tabs = [await open(), await open(), await open()]
    await expect.poll(() => Promise.all(tabs.map(role)), { timeout: 30_000 }).toContain('leader')
    const roles = await Promise.all(tabs.map(role))
    expect(roles.filter((r) => r === 'leader')).toHaveLength(1)
    expect(roles.filter((r) => r === 'follower')).toHaveLength(2)
    const leader = tabs[roles.indexOf('leader')]
    const followers = tabs.filter((t) => t !== leader)

    // every tab shows the leader's node: one peer id
    await expect
      .poll(async () => new Set((await Promise.all(tabs.map(stateOf))).map((s) => s?.peerId)).size, {
        timeout: 30_000,
      })
      .toBe(1)
    const peerId = (await stateOf(leader))?.peerId as string
    expect(peerId).toMatch(/^12D3Koo/)
    await waitFor('the relay registers the site’s peer', () => browserPeers().some((e) => e.record.id === peerId))
    expect(browserPeers().map((e) => e.record.id)).toEqual([peerId])
    expect(relay.relay.registry.peers.size).toBe(2) // the page's peer and the Node submitter, nothing else
    const firstRegistration = relay.relay.registry.peers.get(peerId)?.registeredAt as number

    // a command from a follower reaches the leader's node and comes back in its state
    await followers[0].evaluate(() => window.tabs.send('pause'))
    await expect.poll(async () => (await stateOf(followers[1]))?.commands, { timeout: 10_000 }).toEqual(['pause'])

    // a job over a slow data host, run by the submitter itself and the site's peer: it spans the takeover
    await waitFor('the submitter sees the page’s peer', () => submitter.getStatus().peers.some((p) => p.id === peerId))
    const job = submitter.compute.submit({
      op: 'crc32c',
      data: { url: data.href, length: data.bytes.length },
      pieceBytes: PIECE,
      maxAttempts: 20,
    })
    let piecesDone = 0
    job.addEventListener('progress', (e) => {
      piecesDone = e.detail.piecesDone
    })
    await waitFor('a few pieces done', () => piecesDone >= 3, 30_000)
    // hold the page's next fetch, so the leader surely dies with a piece of the job in its hands
    data.holdPages(true)
    // and a job only the site's peer may run, spanning the handover too
    const soleJob = submitter.compute.submit({
      op: 'crc32c',
      data: { url: data.href, length: 4 * PIECE },
      pieceBytes: PIECE,
      peers: [peerId],
      includeLocal: false,
      maxAttempts: 20,
    })
    await waitFor('a piece held on the leader', () => data.heldFromPages > 0, 30_000)
    const doneBeforeClose = piecesDone

    const t0 = Date.now()
    await leader.close()
    data.holdPages(false)
    await waitFor(
      'the registry shows the same peer id back, registered anew',
      () => (relay.relay.registry.peers.get(peerId)?.registeredAt ?? 0) > firstRegistration,
      30_000,
    )
    const takeoverMs = Date.now() - t0
    const newRoles = await Promise.all(followers.map(role))
    expect(newRoles.sort()).toEqual(['follower', 'leader'])
    const newLeader = followers[newRoles.indexOf('leader')]
    expect((await stateOf(newLeader))?.peerId).toBe(peerId)
    expect(browserPeers().map((e) => e.record.id)).toEqual([peerId])
    console.log(
      `takeover: the registry showed peer ${peerId.slice(-8)} back ${takeoverMs} ms after the leader tab closed ` +
        `(node start in the new leader: ${(await stateOf(newLeader))?.startMs.toFixed(0)} ms; the issue's bound: 5000 ms)`,
    )

    const r = await job.result
    expect(r.result).toBe(kernels.crc32c(data.bytes))
    // the sole-peer job completed across the handover (whether placement ever saw the peer gone is a race: the grace is unit-tested)
    const sole = await soleJob.result
    expect(sole.result).toBe(kernels.crc32c(data.bytes.subarray(0, 4 * PIECE)))
    expect(sole.pieces.every((p) => p.runs.some((run) => run.ok && run.peer === peerId))).toBe(true)
    expect(r.pieces).toHaveLength(data.bytes.length / PIECE)
    expect(doneBeforeClose).toBeLessThan(r.pieces.length) // pieces were left for the new leader
    // the piece the old leader held failed with it and was run again: nothing lost
    const failed = r.pieces.flatMap((p) => p.runs.filter((run) => !run.ok))
    expect(failed.some((run) => run.peer === peerId)).toBe(true)
    expect(r.pieces.every((p) => p.runs.some((run) => run.ok))).toBe(true)
    console.log(
      `job: ${r.pieces.length} pieces, ${doneBeforeClose} done before the takeover, ` +
        `${failed.length} attempts lost with the old leader and run again (replaced: ${r.replaced})`,
    )
    // the new leader's node (started at the takeover) serves the mesh: a job only it may run completes
    // (whether it ran pieces of the first job is a race with the submitter's own cores)
    const after = await submitter.compute.submit({
      op: 'crc32c',
      data: data.bytes.subarray(0, 4 * PIECE),
      pieceBytes: PIECE,
      peers: [peerId],
      includeLocal: false,
    }).result
    expect(after.result).toBe(kernels.crc32c(data.bytes.subarray(0, 4 * PIECE)))
    expect(after.pieces.every((p) => p.runs.some((run) => run.ok && run.peer === peerId))).toBe(true)
  })

  it('the peer id outlives every tab of the site; a stored key that is not a key is replaced', async () => {
    for (const p of context.pages()) await p.close()
    const idOfNewTab = async (): Promise<string> => {
      const page = await open()
      await expect.poll(() => role(page), { timeout: 30_000 }).toBe('leader')
      await expect.poll(async () => (await stateOf(page))?.peerId, { timeout: 30_000 }).toMatch(/^12D3Koo/)
      const id = (await stateOf(page))?.peerId as string
      await waitFor('the relay registers it', () => relay.relay.registry.peers.has(id), 30_000)
      await page.close()
      return id
    }
    const first = await idOfNewTab()
    expect(await idOfNewTab()).toBe(first) // no tab was open in between: the key came from IndexedDB

    // another script of the origin (or a stale version) leaves junk where the key is kept
    const page = await context.newPage()
    await page.goto(`${server.url}/compute/`) // a page of the origin that runs no node

    await page.evaluate(
      () =>
        new Promise<void>((resolve, reject) => {
          const req = indexedDB.open('peercompute-identity-tabs-example', 1)
          req.onerror = () => reject(req.error)
          req.onsuccess = () => {
            const tx = req.result.transaction('keys', 'readwrite')
            tx.objectStore('keys').put(new Uint8Array([8, 1, 18, 3, 1, 2, 3]), 'peer')
            tx.oncomplete = () => {
              req.result.close()
              resolve()
            }
            tx.onerror = () => reject(tx.error)
          }
        }),
    )
    await page.close()
    const replaced = await idOfNewTab()
    expect(replaced).not.toBe(first)
    expect(await idOfNewTab()).toBe(replaced) // and the new key is kept in turn
  })

  it('two tabs loading the identity at once get one key', async () => {
    for (const p of context.pages()) await p.close()
    const pages = [await context.newPage(), await context.newPage()]
    for (const p of pages) await p.goto(`${server.url}/compute/`) // pages of the origin that run no node
    // the built module, through Vite's file server (it resolves the module's own imports)
    const mod = `/@fs${resolve(import.meta.dirname, '../packages/peercompute/dist/browser/volunteer/tabs/peer-identity.js')}`
    // a string: vitest would rewrite an import() written in the test's own code
    const load = (p: Page): Promise<string> =>
      p.evaluate(`import(${JSON.stringify(mod)})
        .then((m) => m.loadPeerIdentity({ dbName: 'e2e-identity-race' }))
        .then((key) => key.publicKey.toString())`)
    const [a, b] = await Promise.all(pages.map(load))
    expect(a).toMatch(/^12D3Koo/)
    expect(b).toBe(a)
    for (const p of pages) await p.close()
  })

  it('the leader counts the site visible while any of its tabs is', async () => {
    for (const p of context.pages()) await p.close()
    const tabs = [await open(), await open()]
    await expect.poll(() => Promise.all(tabs.map(role)), { timeout: 30_000 }).toEqual(['leader', 'follower'])
    const [leader, follower] = tabs
    const siteVisible = () => leader.evaluate(() => window.tabs.siteVisible())
    // the leader's tab goes to the background; the visitor reads the site in the other tab
    await setHidden(leader, true)
    await expect.poll(siteVisible, { timeout: 30_000 }).toBe(true) // once the follower has told the leader
    await setHidden(follower, true)
    await expect.poll(siteVisible, { timeout: 5_000 }).toBe(false)
    await setHidden(follower, false)
    await expect.poll(siteVisible, { timeout: 5_000 }).toBe(true)
    // the visible tab closes: it says so on pagehide
    await follower.close({ runBeforeUnload: true })
    await expect.poll(siteVisible, { timeout: 5_000 }).toBe(false)
    await setHidden(leader, false)
    expect(await siteVisible()).toBe(true)
    await leader.close()
  })
})

/** Deterministic pseudo-random bytes (xorshift). */
function randomBytes(n: number): Uint8Array {
  const data = new Uint8Array(n)
  const words = new Uint32Array(data.buffer)
  for (let i = 0, x = 0x9e3779b9; i < words.length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    words[i] = x
  }
  return data
}

interface SlowData {
  href: string
  bytes: Uint8Array
  /** While true, requests from Chromium are held unanswered (until false again). */
  holdPages(on: boolean): void
  /** Chromium's requests held now. */
  readonly heldFromPages: number
  close(): Promise<void>
}

/**
 * Serves `bytes` with Range support and CORS, each answer `delayMs` late: a
 * slow data host, so that the job is still running when the leader tab
 * closes. `holdPages(true)` holds the pages' requests until `holdPages(false)`.
 */
async function serveSlowly(bytes: Uint8Array, delayMs: number): Promise<SlowData> {
  const timers = new Set<ReturnType<typeof setTimeout>>()
  let hold = false
  const held: Array<() => void> = []
  const host = await serveData(bytes, (req, answer) => {
    if (hold && /Chrome/.test(req.headers['user-agent'] ?? '')) {
      held.push(answer)
      return
    }
    // a slow host, not a synchronisation: the job must still be running when the leader closes
    const t = setTimeout(() => {
      timers.delete(t)
      answer()
    }, delayMs)
    timers.add(t)
  })
  return {
    href: host.href,
    bytes,
    holdPages(on) {
      hold = on
      if (!on) for (const answer of held.splice(0)) answer()
    },
    get heldFromPages() {
      return held.length
    },
    close: () => {
      for (const t of timers) clearTimeout(t)
      return host.close()
    },
  }
}
