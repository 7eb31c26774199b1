import * as kernels from '@peercompute/kernels'

// Voting on a redundant piece: results from distinct peers are grouped by
// value; a strict majority (of at least two when redundant) decides.

/** Runs beyond `redundancy` that may be added to break a tie. */
export const EXTRA_RUNS = 3

/** A result as a piece holds it until the vote. */
export interface Ballot {
  peer: string
  value: unknown
  /** valueKey(value). */
  key: string
}

/** What the vote found: the value agreed on and by whom, or no majority yet. */
export type Tally = { decided: true; value: unknown; peer: string; winners: Set<string> } | { decided: false }

/** Counts the ballots of one piece. */
export function tally(ok: Ballot[], redundancy: number): Tally {
  const groups = new Map<string, Ballot[]>()
  for (const o of ok) groups.set(o.key, [...(groups.get(o.key) ?? []), o])
  const [top] = [...groups.values()].sort((a, b) => b.length - a.length)
  if (!top) return { decided: false }
  const majority = top.length * 2 > ok.length && (redundancy === 1 || top.length >= 2)
  if (!majority) return { decided: false }
  return { decided: true, value: top[0].value, peer: top[0].peer, winners: new Set(top.map((o) => o.peer)) }
}

/** A comparable key of a result: the value itself, or the length and FNV-1a of bytes. */
export function valueKey(v: unknown): string {
  if (v instanceof Uint8Array) return `b${v.length}:${kernels.fnv64(v).toString(16)}`
  if (typeof v === 'bigint') return `n${v.toString()}`
  if (typeof v === 'number') return `n${v}`
  return `j${JSON.stringify(v)}`
}
