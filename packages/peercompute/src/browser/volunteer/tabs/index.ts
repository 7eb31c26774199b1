/**
 * One node per site, not one per tab: leader election with Web Locks, the
 * leader's state and the other tabs' commands over BroadcastChannel, and the
 * site's peer identity kept in IndexedDB so a new leader is the same peer.
 */
export { type AcquireLeadershipOptions, acquireLeadership, type Leadership } from './leader-lock.js'
export {
  type JsonValue,
  MAX_TAB_STATE_BYTES,
  MAX_TAB_STATE_DEPTH,
  parseTabMessage,
  TAB_COMMANDS,
  TAB_PROTOCOL_VERSION,
  type TabCommand,
  type TabMessage,
} from './messages.js'
export { forgetPeerIdentity, loadPeerIdentity, PEER_IDENTITY_DB, type PeerIdentityOptions } from './peer-identity.js'
export {
  type RunOncePerSiteOptions,
  runOncePerSite,
  SiteNode,
  type SiteNodeEvents,
  type SiteNodeHandle,
  type TabRole,
} from './run-once-per-site.js'
export { documentVisibility, MAX_TRACKED_TABS, SiteVisibility, type VisibilitySource } from './site-visibility.js'
