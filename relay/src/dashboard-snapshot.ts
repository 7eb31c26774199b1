import type { RegistryEntry } from './registry-service.js'

/** Capacity of one substrate (or of all), as `/api/capacity` and the dashboard report it. */
export interface CapacityTotals {
  peers: number
  cores: number
  memoryMb: number
  gpus: number
}

/** One peer as the dashboard shows it: no addresses unless the token was given. */
export interface DashboardPeer {
  id: string
  substrate: string
  cores: number
  memoryMb: number
  gpu: boolean
  price: { model: string; usd: number }
  /** Mean round-trip time of the links the peer reports, ms; null if it reports none with a time. */
  rttMs: number | null
  load: { running: number; queued: number }
  /** Totals of the peer's recent pieces, as it publishes them (its metrics ring). */
  metrics: { ok: number; failed: number; bytes: number; costUsd: number } | null
  /** The peer's multiaddrs: only with the token. */
  addrs?: string[]
}

/** One mesh link: peer ids, transport and round-trip time (no addresses). */
export interface DashboardLink {
  from: string
  to: string
  transport: string
  rttMs: number | null
}

/** What `GET /api/dashboard/stream` sends as its `snapshot` event (api13.md; fields are only ever added). */
export interface DashboardSnapshot {
  /** When it was taken, ms since the epoch. */
  at: number
  peers: DashboardPeer[]
  capacity: Record<string, CapacityTotals>
  total: CapacityTotals
  links: DashboardLink[]
  /** True if `links` was cut at the snapshot's link budget. */
  linksTruncated: boolean
  /** Sums of the peers' published piece totals: the dashboard charts their rates. */
  totals: { ok: number; failed: number; bytes: number; costUsd: number }
}

/** Capacity totals overall and by substrate. */
export function capacityOf(entries: Iterable<RegistryEntry>): {
  total: CapacityTotals
  bySubstrate: Record<string, CapacityTotals>
} {
  const total: CapacityTotals = { peers: 0, cores: 0, memoryMb: 0, gpus: 0 }
  const bySubstrate: Record<string, CapacityTotals> = {}
  for (const { record } of entries) {
    const key = record.caps.substrate
    bySubstrate[key] ??= { peers: 0, cores: 0, memoryMb: 0, gpus: 0 }
    for (const t of [total, bySubstrate[key]]) {
      t.peers++
      t.cores += record.caps.cores
      t.memoryMb += record.caps.memoryMb
      t.gpus += record.caps.gpu ? 1 : 0
    }
  }
  return { total, bySubstrate }
}

const finite = (n: number | undefined): number => (typeof n === 'number' && Number.isFinite(n) ? n : 0)

/**
 * The dashboard's view of the registry. `withAddrs` adds the peers'
 * multiaddrs (the caller checked the token). At most `maxLinks` links: the
 * registry bounds peers, but every peer may report many links.
 */
export function dashboardSnapshot(
  entries: Iterable<RegistryEntry>,
  opts: { withAddrs: boolean; maxLinks: number; now?: number },
): DashboardSnapshot {
  const list = [...entries]
  const { total, bySubstrate } = capacityOf(list)
  const totals = { ok: 0, failed: 0, bytes: 0, costUsd: 0 }
  const links: DashboardLink[] = []
  let linksTruncated = false
  const peers = list.map((e): DashboardPeer => {
    const { record } = e
    const timed = e.links.filter((l) => typeof l.rttMs === 'number' && Number.isFinite(l.rttMs))
    const m = record.load.metrics
    if (m) {
      totals.ok += finite(m.ok)
      totals.failed += finite(m.failed)
      totals.bytes += finite(m.bytes)
      totals.costUsd += finite(m.costUsd)
    }
    for (const l of e.links) {
      if (links.length >= opts.maxLinks) {
        linksTruncated = true
        break
      }
      links.push({ from: record.id, to: l.peer, transport: l.transport, rttMs: l.rttMs ?? null })
    }
    return {
      id: record.id,
      substrate: record.caps.substrate,
      cores: record.caps.cores,
      memoryMb: record.caps.memoryMb,
      gpu: record.caps.gpu,
      price: { model: record.caps.price.model, usd: record.caps.price.usd },
      rttMs: timed.length ? timed.reduce((s, l) => s + (l.rttMs as number), 0) / timed.length : null,
      load: { running: record.load.running, queued: record.load.queued },
      metrics: m ? { ok: m.ok, failed: m.failed, bytes: m.bytes, costUsd: m.costUsd } : null,
      ...(opts.withAddrs ? { addrs: [...record.addrs] } : {}),
    }
  })
  return {
    at: opts.now ?? Date.now(),
    peers,
    capacity: bySubstrate,
    total,
    links,
    linksTruncated,
    totals,
  }
}
