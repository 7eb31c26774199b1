// What the leader tab publishes of the site's volunteer, and how a follower
// reads it: another tab is same-origin but may run another version of this
// script, so every field is checked before the panel shows it.
import type { SiteNode } from './tabs/run-once-per-site.js'

/** The leader's volunteer state as every tab of the site sees it. */
export interface SiteVolunteerState {
  state: 'starting' | 'running' | 'paused'
  tasks: number
  cpuSeconds: number
  refused: number
  userPaused: boolean
  reasons: string[]
  peerId?: string
}

const STATES: ReadonlySet<string> = new Set(['starting', 'running', 'paused'])
const count = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x >= 0

/** The state a leader published, or undefined when it is not one. */
export function parseSiteState(x: unknown): SiteVolunteerState | undefined {
  if (typeof x !== 'object' || x === null) return undefined
  const o = x as Record<string, unknown>
  if (typeof o.state !== 'string' || !STATES.has(o.state)) return undefined
  if (!count(o.tasks) || !count(o.cpuSeconds) || !count(o.refused) || typeof o.userPaused !== 'boolean')
    return undefined
  const reasons = Array.isArray(o.reasons)
    ? o.reasons.filter((r): r is string => typeof r === 'string').slice(0, 8)
    : []
  return {
    state: o.state as SiteVolunteerState['state'],
    tasks: o.tasks as number,
    cpuSeconds: o.cpuSeconds as number,
    refused: o.refused as number,
    userPaused: o.userPaused,
    reasons,
    ...(typeof o.peerId === 'string' && o.peerId.length <= 128 ? { peerId: o.peerId } : {}),
  }
}

/**
 * The site's visibility as a document the politeness monitor reads: hidden
 * only when every tab of the site is (the leader may sit in a background tab
 * while the visitor reads the site in another).
 */
export function siteVisibilityDocument(site: SiteNode) {
  return {
    get visibilityState(): DocumentVisibilityState {
      return site.siteVisible ? 'visible' : 'hidden'
    },
    addEventListener: (_type: 'visibilitychange', fn: () => void) => site.addEventListener('visibility', fn),
    removeEventListener: (_type: 'visibilitychange', fn: () => void) => site.removeEventListener('visibility', fn),
  }
}
