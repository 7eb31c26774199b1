// Attacks on the tabs' BroadcastChannel protocol (one node per site): a rogue
// script of the same origin posts to the site's channel - junk of every shape,
// oversized and deeply nested states, unknown commands, forged leaders, and a
// flood. Node's Web Locks and BroadcastChannel stand in for the browser's: each
// SiteNode plays one tab. Nothing malformed reaches the node or a follower's
// state, nothing throws or goes unhandled, and once the rogue stops the
// followers show the real leader's state again.
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  MAX_TAB_STATE_BYTES,
  MAX_TRACKED_TABS,
  runOncePerSite,
  type SiteNode,
  type TabCommand,
} from '../../packages/peercompute/src/browser/volunteer/tabs/index.js'
import { watchUnhandled } from './attacker.js'

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

describe('a rogue tab on the site’s channel', () => {
  it('cannot crash the tabs, reach the node with a bad command, or plant a malformed state', async () => {
    const unhandled = watchUnhandled()
    cleanups.push(() => unhandled.stop())
    const name = `hostile-${process.pid}-${Math.random().toString(36).slice(2)}`
    const commands: TabCommand[] = []
    let statusCalls = 0
    const tab = (): SiteNode => {
      const s = runOncePerSite({
        name,
        stateIntervalMs: 50,
        start: async () => ({
          stop: () => {},
          status: () => {
            statusCalls++
            return { honest: true, commands: commands.length }
          },
          command: (c) => void commands.push(c),
        }),
      })
      cleanups.push(() => s.stop())
      return s
    }
    const leader = tab()
    await vi.waitFor(() => expect(leader.role).toBe('leader'))
    const follower = tab()
    await vi.waitFor(() => expect(follower.state).toEqual({ honest: true, commands: 0 }))
    const errors: Error[] = []
    for (const s of [leader, follower]) s.addEventListener('error', (e) => errors.push(e.detail))
    const seenStates: unknown[] = []
    follower.addEventListener('state', (e) => seenStates.push(e.detail))

    const callsBefore = statusCalls
    const rogue = new BroadcastChannel(`peercompute:site-node:${name}`)
    cleanups.push(() => rogue.close())
    const from = 'roguetab01'
    let deep: unknown = 0
    for (let i = 0; i < 1_000; i++) deep = [deep] // deeper cannot even be posted (structured clone recurses)
    const junk: unknown[] = [
      null,
      'withdraw',
      { v: 1, type: 'command', from, command: 'format-disk' },
      { v: 1, type: 'command', from, command: 'withdraw', also: 'extra' },
      { v: 1, type: 'command', from: '../../etc', command: 'withdraw' },
      { v: 2, type: 'command', from, command: 'withdraw' },
      { v: 1, type: 'state', from, seq: 0, state: { s: 'x'.repeat(MAX_TAB_STATE_BYTES + 1) } },
      { v: 1, type: 'state', from, seq: 0, state: deep },
      { v: 1, type: 'state', from, seq: -5, state: {} },
      { v: 1, type: 'state', from, seq: 0, state: new Uint8Array(1 << 20) },
      { v: 1, type: 'state', from, seq: 0, state: { d: new Date() } },
      new Array(100_000).fill({ v: 1, type: 'hello', from }),
      { v: 1, type: 'presence', from, visible: 'very' },
    ]
    for (const j of junk) rogue.postMessage(j)
    // a flood of well-formed hellos and forged states from many "tabs"
    for (let i = 0; i < 5_000; i++) {
      rogue.postMessage({ v: 1, type: 'hello', from: `rogue${String(i).padStart(6, '0')}` })
      rogue.postMessage({ v: 1, type: 'state', from: `rogue${String(i).padStart(6, '0')}`, seq: 0, state: { i } })
      rogue.postMessage({ v: 1, type: 'presence', from: `rogue${String(i).padStart(6, '0')}`, visible: true })
    }
    // a forged leader with the highest seq: a follower shows it (a same-origin script may post state), the
    // leader never takes it, and the honest leader's next state (another sender) replaces it
    rogue.postMessage({ v: 1, type: 'state', from, seq: Number.MAX_SAFE_INTEGER, state: { forged: true } })

    // the tabs go on: the follower is back on the honest state once the leader publishes again
    await vi.waitFor(() => expect(seenStates.length).toBeGreaterThan(5_000), { timeout: 20_000 })
    await vi.waitFor(() => expect(follower.state).toEqual({ honest: true, commands: 0 }), { timeout: 10_000 })
    expect(leader.state).toEqual({ honest: true, commands: 0 })
    expect(commands).toEqual([]) // no malformed command reached the node
    // 5,000 hellos did not make 5,000 snapshots: answers to hellos are spaced (and the 50 ms timer runs as usual)
    expect(statusCalls - callsBefore).toBeLessThan(500)
    expect([leader.role, follower.role]).toEqual(['leader', 'follower'])
    // every state a follower took was JSON within the budget: the forged ones were plain, small objects
    for (const s of seenStates) expect(JSON.stringify(s).length).toBeLessThanOrEqual(MAX_TAB_STATE_BYTES)
    expect(seenStates.some((s) => (s as { forged?: boolean }).forged)).toBe(true) // same-origin may post state
    // 5,000 "visible tabs": the leader tracks a bounded few (a same-origin script may claim to be visible)
    expect(leader.visibleFollowers).toBeLessThanOrEqual(MAX_TRACKED_TABS)
    expect(errors).toEqual([])
    expect(unhandled.errors).toEqual([])
  })
})
