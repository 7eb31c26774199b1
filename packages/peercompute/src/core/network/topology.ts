/** How a peer chooses the peers it keeps direct connections to. */
export type Topology = 'distributed' | 'hierarchy' | 'emergent'

/** Inputs of a topology choice. */
export interface TopologyInput {
  self: string
  /** Every other peer known now. */
  peers: readonly string[]
  topology: Topology
  /** Most direct peer connections (all topologies). */
  maxConnections: number
  /** hierarchy: children per peer. */
  children: number
  /** emergent: how many lowest-latency peers to keep. */
  k: number
  /** emergent: measured round-trip times, ms. */
  rttMs: ReadonlyMap<string, number>
}

/** The peers a topology wants directly connected to `self`, and which of those `self` dials. */
export interface TopologyChoice {
  neighbors: Set<string>
  /** The subset this peer dials (the other end dials the rest): no two-way dial races. */
  dial: Set<string>
}

/**
 * - `distributed`: a full mesh, up to `maxConnections` peers; the smaller id dials.
 * - `hierarchy`: a tree over all peers sorted by id; each keeps its parent and up
 *   to `children` children; a child dials its parent.
 * - `emergent`: the `k` peers with the lowest measured RTT (dials them itself);
 *   peers that chose it are kept too, since they dial it.
 */
export function chooseNeighbors(input: TopologyInput): TopologyChoice {
  const { self, topology, maxConnections } = input
  const peers = [...new Set(input.peers)].filter((p) => p !== self).sort()
  if (topology === 'distributed') {
    const neighbors = new Set(peers.slice(0, maxConnections))
    return { neighbors, dial: new Set([...neighbors].filter((p) => self < p)) }
  }
  if (topology === 'hierarchy') {
    const all = [...peers, self].sort()
    const i = all.indexOf(self)
    const neighbors = new Set<string>()
    const dial = new Set<string>()
    if (i > 0) {
      const parent = all[Math.floor((i - 1) / input.children)]
      neighbors.add(parent)
      dial.add(parent)
    }
    for (let c = i * input.children + 1; c <= i * input.children + input.children && c < all.length; c++)
      neighbors.add(all[c])
    return { neighbors: new Set([...neighbors].slice(0, maxConnections)), dial }
  }
  const measured = peers
    .filter((p) => input.rttMs.has(p))
    .sort((a, b) => (input.rttMs.get(a) ?? 0) - (input.rttMs.get(b) ?? 0) || (a < b ? -1 : 1))
  const neighbors = new Set(measured.slice(0, Math.min(input.k, maxConnections)))
  return { neighbors, dial: new Set(neighbors) }
}
