// The shapes the page reads (api13.md). Everything from the server is checked before use: see parse.ts.

/** Capacity of one substrate or of all. */
export interface Capacity {
  peers: number
  cores: number
  memoryMb: number
  gpus: number
}

/** A peer in the dashboard stream. */
export interface Peer {
  id: string
  substrate: string
  cores: number
  gpu: boolean
  price: { model: string; usd: number }
  rttMs: number | null
  load: { running: number; queued: number }
  addrs?: string[]
}

/** The relay's `snapshot` event. */
export interface Snapshot {
  at: number
  peers: Peer[]
  capacity: Record<string, Capacity>
  total: Capacity
  links: Array<{ from: string; to: string; transport?: string }>
  totals: { ok: number; failed: number; bytes: number; costUsd: number }
}

/** A job as `peercompute serve` reports it. */
export interface Job {
  id: string
  state: string
  kernel: string
  createdAt: string | number
  /** Bytes done of total; `pieces` done where the server says. */
  progress: { done: number; total: number; pieces?: number }
  costUsd: number
  pieces?: PieceReport[]
}

/** One piece of a job. */
export interface PieceReport {
  index: number
  peer: string
  substrate: string
  durationMs: number
  costUsd: number
  bytes: number
  outcome: string
}

/** `peercompute serve`'s `stats` event. */
export interface Stats {
  at: number
  tasksPerSec: number
  bytesPerSec: number
  costUsd: number
}
