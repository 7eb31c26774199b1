import { StateBinding, StateManager } from 'peercompute'
import { afterEach, describe, expect, it } from 'vitest'
import { loopbackOnly, startPeers, testRelay, waitFor } from './helpers.js'

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

describe.skipIf(!loopbackOnly)('shared state over the mesh (real relay and peers)', () => {
  it('3 peers edit one map and converge; a peer without the room secret is refused', async () => {
    const r = await testRelay()
    cleanups.push(() => r.stop())
    const nets = await startPeers(4, r.wsAddr)
    cleanups.push(() => Promise.all(nets.map((n) => n.stop())))
    const states = nets.map(
      (n, i) =>
        new StateManager({ room: 'jobs', selfId: n.peerId, membership: { secret: i < 3 ? 'team secret' : 'wrong' } }),
    )
    const refused: string[] = []
    for (const s of states) s.addEventListener('state:refused', (e) => refused.push(e.detail.peer))
    const bindings = states.map((s, i) => new StateBinding(s, nets[i]))
    await Promise.all(bindings.map((b) => b.start()))
    cleanups.push(() => {
      for (const b of bindings) b.stop()
      for (const s of states) s.stop()
    })
    await waitFor('members joined each other', () => states.slice(0, 3).every((s) => s.peers().length === 2), 30_000)
    for (const [i, s] of states.entries()) s.map('jobs').set(`from-${i}`, i)
    states[0].text('log').insert(0, 'hello')
    const want = { 'from-0': 0, 'from-1': 1, 'from-2': 2 }
    await waitFor(
      'members converged',
      () =>
        states
          .slice(0, 3)
          .every(
            (s) =>
              JSON.stringify(s.map('jobs').toJSON()) === JSON.stringify(want) || sameKeys(s.map('jobs').toJSON(), want),
          ),
      15_000,
    )
    for (const s of states.slice(0, 3)) {
      expect(s.map('jobs').toJSON()).toEqual(want)
      expect(s.text('log').toString()).toBe('hello')
    }
    // the outsider sees none of it, and its edit reached nobody; whichever end checked first hung up
    expect(states[3].map('jobs').toJSON()).toEqual({ 'from-3': 3 })
    expect(states[3].peers()).toEqual([])
    for (const s of states.slice(0, 3)) expect(s.peers()).not.toContain(nets[3].peerId)
    expect(refused.length).toBeGreaterThan(0)
  })
})

function sameKeys(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  return Object.keys(a).length === Object.keys(b).length && Object.entries(b).every(([k, v]) => a[k] === v)
}
