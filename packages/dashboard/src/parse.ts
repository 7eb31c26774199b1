// Checks what the server sends before the page uses it: a field of the wrong type becomes a safe default.
import type { Capacity, Job, Peer, PieceReport, Snapshot, Stats } from './types.ts'

type Obj = Record<string, unknown>
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {})
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0)
const str = (v: unknown, max = 200): string => (typeof v === 'string' ? v.slice(0, max) : '')

function capacity(v: unknown): Capacity {
  const o = obj(v)
  return { peers: num(o.peers), cores: num(o.cores), memoryMb: num(o.memoryMb), gpus: num(o.gpus) }
}

function peer(v: unknown): Peer {
  const o = obj(v)
  const price = obj(o.price)
  const load = obj(o.load)
  return {
    id: str(o.id),
    substrate: str(o.substrate, 40),
    cores: num(o.cores),
    gpu: o.gpu === true,
    price: { model: str(price.model, 40), usd: num(price.usd) },
    rttMs: typeof o.rttMs === 'number' && Number.isFinite(o.rttMs) ? o.rttMs : null,
    load: { running: num(load.running), queued: num(load.queued) },
    ...(Array.isArray(o.addrs) ? { addrs: o.addrs.map((a) => str(a, 500)) } : {}),
  }
}

/** A `snapshot` event's data. */
export function parseSnapshot(text: string): Snapshot {
  const o = obj(JSON.parse(text))
  const totals = obj(o.totals)
  return {
    at: num(o.at),
    peers: arr(o.peers).map(peer),
    capacity: Object.fromEntries(Object.entries(obj(o.capacity)).map(([k, c]) => [k.slice(0, 40), capacity(c)])),
    total: capacity(o.total),
    links: arr(o.links).map((l) => ({ from: str(obj(l).from), to: str(obj(l).to), transport: str(obj(l).transport) })),
    totals: { ok: num(totals.ok), failed: num(totals.failed), bytes: num(totals.bytes), costUsd: num(totals.costUsd) },
  }
}

function piece(v: unknown): PieceReport {
  const o = obj(v)
  return {
    index: num(o.index),
    peer: str(o.peer),
    substrate: str(o.substrate, 40),
    durationMs: num(o.durationMs),
    costUsd: num(o.costUsd),
    bytes: num(o.bytes),
    outcome: str(o.outcome, 20),
  }
}

/** A `Job`, from the job API or a `job` event. */
export function parseJob(v: unknown): Job {
  const o = obj(v)
  const p = obj(o.progress)
  return {
    id: str(o.id),
    state: str(o.state, 20),
    kernel: str(o.kernel, 40),
    createdAt: typeof o.createdAt === 'number' ? o.createdAt : str(o.createdAt, 40),
    progress: {
      done: num(p.done),
      total: num(p.total),
      ...(typeof p.pieces === 'number' ? { pieces: num(p.pieces) } : {}),
    },
    costUsd: num(o.costUsd),
    ...(Array.isArray(o.pieces) ? { pieces: o.pieces.slice(0, 10_000).map(piece) } : {}),
  }
}

/** `GET /api/jobs`'s answer. */
export function parseJobList(v: unknown): Job[] {
  return arr(obj(v).jobs).map(parseJob)
}

/** A `stats` event's data. */
export function parseStats(text: string): Stats {
  const o = obj(JSON.parse(text))
  return { at: num(o.at), tasksPerSec: num(o.tasksPerSec), bytesPerSec: num(o.bytesPerSec), costUsd: num(o.costUsd) }
}
