// The small modules the volunteer node is built with instead of netmask,
// p-queue, @libp2p/logger and lib0/logging (packages/peercompute/vite.volunteer.config.ts):
// each does what the code that imports it asks, the same as the real one.
import { Netmask as RealNetmask } from 'netmask'
import { describe, expect, it } from 'vitest'
import { STAND_INS } from '../../packages/peercompute/vite.volunteer.config.ts'

const load = (name: string) => import(`data:text/javascript,${encodeURIComponent(STAND_INS[name])}`)

describe('the volunteer build’s stand-in modules', () => {
  it('netmask: contains() answers as the real one on the private ranges @libp2p/utils checks', async () => {
    const { Netmask } = await load('netmask')
    const ranges = [
      '0.0.0.0/8',
      '10.0.0.0/8',
      '100.64.0.0/10',
      '127.0.0.0/8',
      '172.16.0.0/12',
      '192.0.0.8/32',
      '192.168.0.0/16',
      '198.18.0.0/15',
      '240.0.0.0/4',
      '255.255.255.255/32',
    ]
    const ips = [
      '0.1.2.3',
      '9.255.255.255',
      '10.0.0.0',
      '10.255.255.255',
      '11.0.0.0',
      '100.63.255.255',
      '100.64.0.1',
      '100.127.255.255',
      '100.128.0.0',
      '127.0.0.1',
      '172.15.255.255',
      '172.16.0.1',
      '172.31.255.255',
      '172.32.0.0',
      '192.0.0.8',
      '192.0.0.9',
      '192.168.1.1',
      '198.19.255.255',
      '198.20.0.0',
      '239.255.255.255',
      '240.0.0.1',
      '255.255.255.255',
      '8.8.8.8',
    ]
    for (const r of ranges) {
      const [ours, real] = [new Netmask(r), new RealNetmask(r)]
      for (const ip of ips) expect(ours.contains(ip), `${r} ∋ ${ip}`).toBe(real.contains(ip))
    }
    expect(() => new Netmask('10.0.0.0/8').contains('not an ip')).toThrow()
  })

  it('p-queue: add() runs at most `concurrency` at once, in order, passing results, errors and aborts', async () => {
    const { default: PQueue } = await load('p-queue')
    const q = new PQueue({ concurrency: 2 })
    let running = 0
    let most = 0
    const order: number[] = []
    const task = (i: number) => async () => {
      running++
      most = Math.max(most, running)
      order.push(i)
      await new Promise((r) => setImmediate(r))
      running--
      if (i === 3) throw new Error('three')
      return i * 10
    }
    const ac = new AbortController()
    const runs = [1, 2, 3, 4].map((i) => q.add(task(i)))
    const aborted = q.add(task(5), { signal: ac.signal })
    ac.abort(new Error('aborted'))
    const results = await Promise.allSettled([...runs, aborted])
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([
      10,
      20,
      'three',
      40,
      'aborted',
    ])
    expect(most).toBe(2)
    expect(order).toEqual([1, 2, 3, 4])
  })

  it('@libp2p/logger: every logger is a disabled function with the fields libp2p reads', async () => {
    const { defaultLogger, peerLogger, logger } = await load('@libp2p/logger')
    for (const log of [
      defaultLogger().forComponent('a'),
      peerLogger('12D3').forComponent('b'),
      logger('c').newScope('d'),
    ]) {
      expect(log.enabled).toBe(false)
      expect(log.error.enabled).toBe(false)
      expect(log.trace.enabled).toBe(false)
      expect(log('x %s', 1)).toBeUndefined()
    }
  })

  it('lib0/logging: Yjs’s warnings reach the console without the style symbols', async () => {
    const { warn, BOLD, UNBOLD } = await load('lib0/logging')
    const seen: unknown[][] = []
    const orig = console.warn
    console.warn = (...a: unknown[]) => seen.push(a)
    try {
      warn(BOLD, 'Yjs', UNBOLD, 'was already imported')
    } finally {
      console.warn = orig
    }
    expect(seen).toEqual([['Yjs', 'was already imported']])
  })
})
