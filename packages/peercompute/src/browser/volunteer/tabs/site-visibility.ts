// Whether any tab of the site is visible. One node serves every tab of a site,
// so "the tab is hidden" means every tab is: the leader may sit in a background
// tab while the visitor reads the site in another. Followers tell the leader
// when their visibility changes, on a heartbeat, and when they go away; a tab
// not heard from for a while no longer counts as visible.

/** Most follower tabs tracked; the stalest is forgotten first beyond this. */
export const MAX_TRACKED_TABS = 64

/** This tab's own visibility, from the page (or always visible where there is no document). */
export interface VisibilitySource {
  visible(): boolean
  /** Calls `fn` with the visibility on every change; returns what unsubscribes. */
  subscribe(fn: (visible: boolean) => void): () => void
}

/** The page's `document.visibilityState`; always visible outside a page. */
export function documentVisibility(): VisibilitySource {
  const doc = (globalThis as { document?: Document }).document
  if (!doc) return { visible: () => true, subscribe: () => () => {} }
  return {
    visible: () => doc.visibilityState !== 'hidden',
    subscribe: (fn) => {
      const onChange = () => fn(doc.visibilityState !== 'hidden')
      // a tab going away (closed, navigated) stops being visible before it is gone
      const onHide = () => fn(false)
      doc.addEventListener('visibilitychange', onChange)
      globalThis.addEventListener?.('pagehide', onHide)
      return () => {
        doc.removeEventListener('visibilitychange', onChange)
        globalThis.removeEventListener?.('pagehide', onHide)
      }
    },
  }
}

/** The leader's view of which tabs are visible. */
export class SiteVisibility {
  private readonly tabs = new Map<string, { visible: boolean; at: number }>()
  private readonly ttlMs: number
  private readonly now: () => number

  /** `ttlMs`: how long a follower's report counts. */
  constructor(ttlMs: number, now: () => number = () => performance.now()) {
    this.ttlMs = ttlMs
    this.now = now
  }

  /** A follower's report. */
  report(tab: string, visible: boolean): void {
    this.tabs.delete(tab) // re-inserted last: the map stays ordered oldest report first
    if (!visible) return // a hidden tab counts as nothing: no entry to keep
    this.tabs.set(tab, { visible, at: this.now() })
    if (this.tabs.size > MAX_TRACKED_TABS) this.tabs.delete(this.tabs.keys().next().value as string)
  }

  /** True when this tab (`selfVisible`) or a follower heard from within `ttlMs` is visible. */
  anyVisible(selfVisible: boolean): boolean {
    if (selfVisible) return true
    const cutoff = this.now() - this.ttlMs
    for (const [tab, e] of this.tabs) {
      if (e.at < cutoff) this.tabs.delete(tab)
      else if (e.visible) return true
    }
    return false
  }

  /** Follower tabs counted as visible now. */
  get size(): number {
    return this.tabs.size
  }

  /** Forgets every report (a new leader starts from nothing). */
  clear(): void {
    this.tabs.clear()
  }
}
