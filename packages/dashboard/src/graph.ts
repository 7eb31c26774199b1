// The mesh as an SVG graph: peers on a circle (by id, so they keep their place), links as lines.
import type { Snapshot } from './types.ts'

const SVG = 'http://www.w3.org/2000/svg'
/** Most peers drawn; the rest are counted in the title. */
export const MAX_NODES = 200
const COLORS: Record<string, string> = { node: '#1f77b4', browser: '#2ca02c', gateway: '#ff7f0e' }

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number>,
): SVGElementTagNameMap[K] {
  const e = document.createElementNS(SVG, tag)
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v))
  return e
}

/** Redraws the mesh graph. */
export function drawMesh(root: SVGSVGElement, snap: Snapshot): void {
  const peers = [...snap.peers].sort((a, b) => (a.id < b.id ? -1 : 1)).slice(0, MAX_NODES)
  const at = new Map<string, { x: number; y: number }>()
  const r = peers.length > 1 ? 90 : 0
  peers.forEach((p, i) => {
    const a = (2 * Math.PI * i) / peers.length - Math.PI / 2
    at.set(p.id, { x: r * Math.cos(a), y: r * Math.sin(a) })
  })
  const title = svg('title', { id: 'mesh-title' })
  const hidden = snap.peers.length - peers.length
  title.textContent = `The mesh: ${snap.peers.length} peers, ${snap.links.length} links${hidden > 0 ? ` (${hidden} peers not drawn)` : ''}`
  const lines = snap.links.flatMap((l) => {
    const a = at.get(l.from)
    const b = at.get(l.to)
    if (!a || !b) return []
    const line = svg('line', {
      x1: a.x,
      y1: a.y,
      x2: b.x,
      y2: b.y,
      class: `link ${l.transport === 'webrtc' ? 'webrtc' : ''}`,
    })
    return [line]
  })
  const dots = peers.map((p) => {
    const { x, y } = at.get(p.id) as { x: number; y: number }
    const c = svg('circle', { cx: x, cy: y, r: 5, fill: COLORS[p.substrate] ?? '#777', class: 'peer' })
    const t = svg('title', {})
    t.textContent = `${p.id} (${p.substrate}, ${p.cores} cores${p.gpu ? ', GPU' : ''})`
    c.append(t)
    return c
  })
  root.replaceChildren(title, ...lines, ...dots)
}
