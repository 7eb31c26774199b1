// The shapes runOncePerSite takes and gives: the options, the node handle
// `start` returns, this tab's role and the events of a SiteNode.
import type { JsonValue, TabCommand } from './messages.js'
import type { VisibilitySource } from './site-visibility.js'

/** This tab's part: waiting for the election, leading (runs the node), following, or stopped. */
export type TabRole = 'pending' | 'leader' | 'follower' | 'stopped'

/** What `start` returns: the running node, as the tabs see it. */
export interface SiteNodeHandle {
  /** Stops the node and releases everything it holds. */
  stop(): Promise<void> | void
  /** The node's state for every tab: made JSON, at most `MAX_TAB_STATE_BYTES`. */
  status(): unknown
  /** Applies a command from any tab (this one included). `withdraw` is followed by `stop()`. */
  command?(command: TabCommand): Promise<void> | void
}

/** Options of {@link runOncePerSite}. */
export interface RunOncePerSiteOptions {
  /** The site's node name: tabs with the same name (and origin) share one node. 1-128 characters. */
  name: string
  /**
   * Starts the node; called in the leader tab only, again in the tab that
   * takes over. `signal` aborts when this tab stops.
   */
  start: (ctx: { signal: AbortSignal }) => Promise<SiteNodeHandle>
  /**
   * Checked when this tab is granted the lock, before `start`: false stops
   * this tab's part instead. Read the visitor's consent here from storage all
   * tabs share (localStorage): a `withdraw` from another tab may reach this
   * tab after the old leader released the lock, and then only the stored
   * answer tells this tab not to start.
   */
  mayStart?: () => boolean
  /** Stops this tab's part (as `stop()` does). */
  signal?: AbortSignal
  /** How often the leader publishes its state, and visible followers say so, ms (default 1,000; 50-60,000). */
  stateIntervalMs?: number
  /** This tab's visibility (default `document.visibilityState`; always visible outside a page). */
  visibility?: VisibilitySource
}

/** Events of a {@link SiteNode}. */
export interface SiteNodeEvents {
  /** This tab's role changed. */
  role: CustomEvent<TabRole>
  /** The leader's node state (in the leader tab too). */
  state: CustomEvent<JsonValue>
  /** A command from any tab, this one included, in every tab. */
  command: CustomEvent<TabCommand>
  /** Something failed: `start`, `stop`, a command or a state that could not be published. */
  error: CustomEvent<Error>
  /** In the leader tab: whether any tab of the site is visible changed (see `siteVisible`). */
  visibility: CustomEvent<boolean>
}
