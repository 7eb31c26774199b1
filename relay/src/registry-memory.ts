// What the registry holds in memory, estimated from what it received, and the
// bound that its limits put on it. Wire sizes are exact; the heap cost of a
// decoded record is an estimate (strings, arrays and objects as V8 lays them
// out), kept on the high side.

import type { PeerRecord } from 'peercompute'

/** Fixed cost of one session: the objects, listeners and stream state around it. */
export const SESSION_BYTES = 4096
/** Fixed cost of one registry entry besides its fields. */
export const ENTRY_BYTES = 512
/** Heap cost of one array element (an address, a kernel name, a mesh link) besides its characters. */
export const ELEMENT_BYTES = 48
/** Frames a session may hold beyond its backlog bound: one paced `join` of its snapshot and one `error`. */
export const SESSION_SLACK_BYTES = 2048

/**
 * The accounted cost of a record: its announce decoded (about twice the wire
 * bytes) and encoded once more as the `join` frame every subscriber gets, its
 * mesh report decoded, and a fixed cost per element and per entry.
 */
export function recordCost(announceBytes: number, meshBytes: number, record: PeerRecord, links: number): number {
  const elements = record.addrs.length + record.caps.kernels.length + links
  return 3 * announceBytes + 2 * meshBytes + ELEMENT_BYTES * elements + ENTRY_BYTES
}

/** The limits the memory bound is computed from. */
export interface MemoryLimits {
  maxPeers: number
  maxRecordBytes: number
  maxRecordsBytes: number
  maxSessions: number
  maxBacklogBytes: number
  maxTotalBacklogBytes: number
  maxFrame: number
  limiterKeys: number
  bucketEntryBytes: number
}

/** Each part of the bound, in bytes. */
export interface MemoryBound {
  /** Registered records: min(maxRecordsBytes, maxPeers × maxRecordBytes). */
  records: number
  /** Unsent data to subscribers: the node-wide budget, plus one paced frame per session. */
  backlog: number
  /** Sessions: fixed cost plus one partly received frame each. */
  sessions: number
  /** Rate-limit state: peer ids and IPs. */
  limiter: number
  total: number
}

/** The registry's memory bound from its limits. */
export function memoryBound(l: MemoryLimits): MemoryBound {
  const records = Math.min(l.maxRecordsBytes, l.maxPeers * l.maxRecordBytes)
  const backlog =
    Math.min(l.maxTotalBacklogBytes, l.maxSessions * l.maxBacklogBytes) +
    l.maxSessions * (l.maxFrame + SESSION_SLACK_BYTES)
  const sessions = l.maxSessions * (SESSION_BYTES + l.maxFrame)
  const limiter = l.limiterKeys * l.bucketEntryBytes
  return { records, backlog, sessions, limiter, total: records + backlog + sessions + limiter }
}
