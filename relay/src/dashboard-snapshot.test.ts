import { describe, expect, it } from 'vitest'
import { capacityOf, dashboardSnapshot } from './dashboard-snapshot.js'
import type { RegistryEntry } from './registry-service.js'

const entry = (
  id: string,
  substrate: 'node' | 'browser' | 'gateway',
  extra: { gpu?: boolean; links?: RegistryEntry['links']; metrics?: { ok: number; bytes: number } } = {},
): RegistryEntry => ({
  record: {
    id,
    addrs: [`/ip4/10.0.0.1/tcp/1/p2p/${id}`],
    caps: {
      cores: 4,
      memoryMb: 100,
      gpu: extra.gpu ?? false,
      kernels: ['crc32c'],
      substrate,
      price: { model: 'free', usd: 0 },
    },
    load: {
      running: 1,
      queued: 2,
      ...(extra.metrics ? { metrics: { ...extra.metrics, failed: 0, costUsd: 0.5 } } : {}),
    },
  },
  lastSeen: 0,
  registeredAt: 0,
  links: extra.links ?? [],
  bytes: 0,
})

describe('dashboard snapshot', () => {
  const entries = [
    entry('a', 'node', {
      gpu: true,
      links: [
        { peer: 'b', transport: 'webrtc', rttMs: 2 },
        { peer: 'c', transport: 'tcp', rttMs: 4 },
        { peer: 'd', transport: 'relayed' },
      ],
      metrics: { ok: 3, bytes: 300 },
    }),
    entry('b', 'browser', { metrics: { ok: 1, bytes: 100 } }),
    entry('c', 'browser'),
  ]

  it('sums capacity by substrate and in all, and the peers published piece totals', () => {
    expect(capacityOf(entries)).toEqual({
      total: { peers: 3, cores: 12, memoryMb: 300, gpus: 1 },
      bySubstrate: {
        node: { peers: 1, cores: 4, memoryMb: 100, gpus: 1 },
        browser: { peers: 2, cores: 8, memoryMb: 200, gpus: 0 },
      },
    })
    const s = dashboardSnapshot(entries, { withAddrs: false, maxLinks: 100, now: 7 })
    expect(s.at).toBe(7)
    expect(s.totals).toEqual({ ok: 4, failed: 0, bytes: 400, costUsd: 1 })
    expect(s.peers[0]).toMatchObject({ id: 'a', rttMs: 3, load: { running: 1, queued: 2 }, gpu: true })
    expect(s.peers[2].rttMs).toBeNull()
  })

  it('has addresses only when asked, and cuts links at the budget', () => {
    const open = dashboardSnapshot(entries, { withAddrs: false, maxLinks: 2 })
    expect(JSON.stringify(open)).not.toContain('/ip4/')
    expect(open.links).toEqual([
      { from: 'a', to: 'b', transport: 'webrtc', rttMs: 2 },
      { from: 'a', to: 'c', transport: 'tcp', rttMs: 4 },
    ])
    expect(open.linksTruncated).toBe(true)
    const full = dashboardSnapshot(entries, { withAddrs: true, maxLinks: 100 })
    expect(full.peers.map((p) => p.addrs?.[0])).toEqual(entries.map((e) => e.record.addrs[0]))
    expect(full.linksTruncated).toBe(false)
  })
})
