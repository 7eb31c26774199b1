import * as kernels from '@peercompute/kernels'
import type { ContentPin } from '../range-fetch.js'

// Voting on a redundant piece: results from distinct peers are grouped by
// value; a strict majority (of at least two when redundant) decides.

/** Runs beyond `redundancy` that may be added to break a tie. */
export const EXTRA_RUNS = 3

/** A result as a piece holds it until the vote. */
export interface Ballot {
  peer: string
  value: unknown
  /** The content version the run read (URL sources), voted on with the value. */
  validator?: ContentPin
  /** valueKey(value, validator). */
  key: string
}

/** What the vote found: the value agreed on and by whom, or no majority yet. */
export type Tally =
  | { decided: true; value: unknown; validator?: ContentPin; peer: string; winners: Set<string> }
  | { decided: false }

/** Counts the ballots of one piece. */
export function tally(ok: Ballot[], redundancy: number): Tally {
  const groups = new Map<string, Ballot[]>()
  for (const o of ok) groups.set(o.key, [...(groups.get(o.key) ?? []), o])
  const [top] = [...groups.values()].sort((a, b) => b.length - a.length)
  if (!top) return { decided: false }
  const majority = top.length * 2 > ok.length && (redundancy === 1 || top.length >= 2)
  if (!majority) return { decided: false }
  const winners = new Set(top.map((o) => o.peer))
  return { decided: true, value: top[0].value, validator: top[0].validator, peer: top[0].peer, winners }
}

/** A comparable key of a result: the value itself, or the length and FNV-1a of bytes; and the content version read. */
export function valueKey(v: unknown, validator?: ContentPin): string {
  const version = validator ? `@${pinKey(validator)}` : ''
  if (v instanceof Uint8Array) return `b${v.length}:${kernels.fnv64(v).toString(16)}${version}`
  if (typeof v === 'bigint') return `n${v.toString()}${version}`
  if (typeof v === 'number') return `n${v}${version}`
  return `j${JSON.stringify(v)}${version}`
}

/** A comparable key of a content version. */
export function pinKey(pin: ContentPin): string {
  return JSON.stringify([pin.etag ?? null, pin.lastModified ?? null])
}
