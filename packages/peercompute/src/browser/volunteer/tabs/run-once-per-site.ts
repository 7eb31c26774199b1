// One node per site, not one per tab. Browsers give a SharedWorker no
// RTCPeerConnection, so a tab must run the node: the tabs elect a leader with
// Web Locks, the leader starts the node and publishes its state over
// BroadcastChannel, and the other tabs show that state and send it commands.
// When the leader tab closes its lock is released and a waiting tab takes over.
import { TypedEventEmitter } from 'main-event'
import { InvalidOptionError, TabCoordinationUnavailableError } from '../../../core/errors.js'
import { acquireLeadership, type Leadership, webLocks } from './leader-lock.js'
import {
  type JsonValue,
  newTabId,
  parseTabMessage,
  TAB_PROTOCOL_VERSION,
  type TabCommand,
  type TabMessage,
  toTabState,
} from './messages.js'
import type { RunOncePerSiteOptions, SiteNodeEvents, SiteNodeHandle, TabRole } from './site-node-types.js'
import { documentVisibility, SiteVisibility, type VisibilitySource } from './site-visibility.js'

export type { RunOncePerSiteOptions, SiteNodeEvents, SiteNodeHandle, TabRole } from './site-node-types.js'

/** The least time between two state messages sent for tabs that asked (`hello`): a flood costs nothing, ms. */
const HELLO_GAP_MS = 100

/** This tab's view of the site's one node: see {@link runOncePerSite}. */
export class SiteNode extends TypedEventEmitter<SiteNodeEvents> {
  /** This tab's random id (the `from` of its messages). */
  readonly tabId = newTabId()
  private currentRole: TabRole = 'pending'
  private latest: JsonValue | undefined
  private leader: string | undefined
  private lastSeq = -1
  private seq = 0
  private handle: SiteNodeHandle | undefined
  private leadership: Leadership | undefined
  private timer: ReturnType<typeof setInterval> | undefined
  private soon: ReturnType<typeof setTimeout> | undefined
  private lastPublish = Number.NEGATIVE_INFINITY
  private stopping: Promise<void> | undefined
  private electing: Promise<void> = Promise.resolve()
  private readonly ac = new AbortController()
  private readonly channel: BroadcastChannel
  private readonly lockName: string
  private readonly intervalMs: number
  private readonly options: RunOncePerSiteOptions
  private readonly own: VisibilitySource
  private readonly others: SiteVisibility
  private anyVisible: boolean
  private unsubscribe: () => void = () => {}

  /** Use {@link runOncePerSite}. */
  constructor(options: RunOncePerSiteOptions) {
    super()
    this.options = options
    const { name, stateIntervalMs = 1000 } = options
    if (typeof name !== 'string' || name.length < 1 || name.length > 128) {
      throw new InvalidOptionError('runOncePerSite: name must be a string of 1-128 characters')
    }
    if (!Number.isFinite(stateIntervalMs) || stateIntervalMs < 50 || stateIntervalMs > 60_000) {
      throw new InvalidOptionError('runOncePerSite: stateIntervalMs must be within 50-60,000')
    }
    if (typeof options.start !== 'function') throw new InvalidOptionError('runOncePerSite: start must be a function')
    if (typeof BroadcastChannel !== 'function') {
      throw new TabCoordinationUnavailableError('BroadcastChannel is unavailable in this page')
    }
    webLocks() // throws TabCoordinationUnavailableError now rather than as an error event later
    this.intervalMs = stateIntervalMs
    this.own = options.visibility ?? documentVisibility()
    this.others = new SiteVisibility(3 * stateIntervalMs)
    this.anyVisible = this.own.visible()
    this.lockName = `peercompute:site-node:${name}`
    this.channel = new BroadcastChannel(this.lockName)
    this.channel.onmessage = (e) => this.receive(e.data)
    if (options.signal?.aborted) {
      void this.stop()
      return
    }
    options.signal?.addEventListener('abort', () => void this.stop(), { once: true, signal: this.ac.signal })
    this.unsubscribe = this.own.subscribe((visible) => this.onOwnVisibility(visible))
    this.timer = setInterval(() => this.tick(), this.intervalMs)
    this.electing = this.elect()
  }

  /** This tab's role now. */
  get role(): TabRole {
    return this.currentRole
  }

  /** The latest state of the site's node (undefined until the leader published one). */
  get state(): JsonValue | undefined {
    return this.latest
  }

  /**
   * In the leader tab: whether any tab of the site is visible (this one, or a
   * follower that said so within three state intervals). Pause the node on
   * this rather than on the leader tab's own visibility: the visitor may read
   * the site in another tab. In a follower: this tab's own visibility.
   */
  get siteVisible(): boolean {
    return this.anyVisible
  }

  /** In the leader tab: follower tabs counted as visible now (at most `MAX_TRACKED_TABS`). */
  get visibleFollowers(): number {
    return this.others.size
  }

  /** The leader tab's id, when known (this tab's own when it leads). */
  get leaderTab(): string | undefined {
    return this.leader
  }

  /**
   * Sends a command to the site's node, from any tab. Every tab gets a
   * `command` event; the leader applies it. `withdraw` stops every tab's
   * part, the node with it (no tab takes over).
   */
  send(command: TabCommand): void {
    if (this.currentRole === 'stopped') return
    this.post({ v: TAB_PROTOCOL_VERSION, type: 'command', from: this.tabId, command })
    this.onCommand(command)
  }

  /** Stops this tab's part: the node if this tab leads (another tab then takes over), the lock, the channel. */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown()
    return this.stopping
  }

  private async shutdown(): Promise<void> {
    this.ac.abort()
    this.unsubscribe()
    // a follower going away is visible no more
    if (this.currentRole === 'follower') this.presence(false)
    // a node still starting is stopped by elect() itself; the lock is kept until it has
    await this.electing
    clearInterval(this.timer)
    clearTimeout(this.soon)
    const handle = this.handle
    this.handle = undefined
    try {
      await handle?.stop()
    } catch (err) {
      this.fail(err)
    }
    this.leadership?.release()
    this.channel.close()
    this.setRole('stopped')
  }

  private async elect(): Promise<void> {
    try {
      this.leadership = await acquireLeadership(this.lockName, {
        signal: this.ac.signal,
        onWaiting: () => {
          this.setRole('follower')
          this.post({ v: TAB_PROTOCOL_VERSION, type: 'hello', from: this.tabId })
        },
      })
      if (this.ac.signal.aborted) {
        this.leadership.release()
        return
      }
      if (this.options.mayStart && !this.options.mayStart()) {
        void this.stop()
        return
      }
      this.leader = this.tabId
      this.lastSeq = -1
      this.others.clear()
      this.setRole('leader')
      this.updateVisibility()
      const handle = await this.options.start({ signal: this.ac.signal })
      if (this.ac.signal.aborted) {
        await handle.stop()
        return
      }
      this.handle = handle
      this.publish()
    } catch (err) {
      if (this.ac.signal.aborted) return
      // a node that cannot start here: give the lock up, so another tab (or a reload) may try
      this.fail(err)
      void this.stop()
    }
  }

  private receive(data: unknown): void {
    if (this.ac.signal.aborted) return
    const msg = parseTabMessage(data)
    if (!msg) return // not ours, another version, or malformed: dropped unread
    switch (msg.type) {
      case 'hello':
        if (this.handle) this.publishSoon()
        return
      case 'state':
        // only a follower takes state; a leader ignores any other tab claiming to lead
        if (this.currentRole === 'leader') return
        if (msg.from !== this.leader) {
          this.leader = msg.from
          this.lastSeq = -1
          this.presence(this.own.visible()) // a new leader: tell it where this tab stands
        }
        if (msg.seq <= this.lastSeq) return
        this.lastSeq = msg.seq
        this.latest = msg.state
        this.safeDispatch('state', msg.state)
        return
      case 'command':
        this.onCommand(msg.command)
        return
      case 'presence':
        if (this.currentRole !== 'leader') return
        this.others.report(msg.from, msg.visible)
        this.updateVisibility()
        return
    }
  }

  /** Every state interval: the leader publishes (and lets silent followers' reports expire); a visible follower says so. */
  private tick(): void {
    if (this.currentRole === 'leader') {
      this.updateVisibility()
      this.publish()
    } else if (this.currentRole === 'follower' && this.own.visible()) this.presence(true)
  }

  private onOwnVisibility(visible: boolean): void {
    if (this.ac.signal.aborted) return
    if (this.currentRole === 'leader') this.updateVisibility(visible)
    else {
      this.anyVisible = visible
      if (this.currentRole === 'follower') this.presence(visible)
    }
  }

  private presence(visible: boolean): void {
    this.post({ v: TAB_PROTOCOL_VERSION, type: 'presence', from: this.tabId, visible })
  }

  private updateVisibility(self = this.own.visible()): void {
    const v = this.others.anyVisible(self)
    if (v === this.anyVisible) return
    this.anyVisible = v
    this.safeDispatch('visibility', v)
  }

  private onCommand(command: TabCommand): void {
    this.safeDispatch('command', command)
    const handle = this.handle
    if (command === 'withdraw') {
      if (handle?.command) {
        Promise.resolve()
          .then(() => handle.command?.(command))
          .catch((err: unknown) => this.fail(err))
          .finally(() => void this.stop())
      } else void this.stop()
      return
    }
    if (!handle?.command) return
    Promise.resolve()
      .then(() => handle.command?.(command))
      .then(
        () => this.publish(),
        (err: unknown) => this.fail(err),
      )
  }

  /** Publishes for a tab that asked, at most every HELLO_GAP_MS however many ask. */
  private publishSoon(): void {
    if (this.soon !== undefined) return
    const wait = this.lastPublish + HELLO_GAP_MS - performance.now()
    if (wait <= 0) {
      this.publish()
      return
    }
    this.soon = setTimeout(() => {
      this.soon = undefined
      this.publish()
    }, wait)
  }

  private publish(): void {
    const handle = this.handle
    if (!handle || this.ac.signal.aborted) return
    this.lastPublish = performance.now()
    let state: JsonValue | undefined
    try {
      state = toTabState(handle.status())
    } catch (err) {
      this.fail(err)
      return
    }
    if (state === undefined) {
      this.fail(new InvalidOptionError('runOncePerSite: status() is not JSON within MAX_TAB_STATE_BYTES'))
      return
    }
    this.latest = state
    this.post({ v: TAB_PROTOCOL_VERSION, type: 'state', from: this.tabId, seq: this.seq++, state })
    this.safeDispatch('state', state)
  }

  private post(msg: TabMessage): void {
    try {
      this.channel.postMessage(msg)
    } catch (err) {
      this.fail(err) // a closed channel: this tab is stopping
    }
  }

  private setRole(role: TabRole): void {
    if (role === this.currentRole) return
    this.currentRole = role
    this.safeDispatch('role', role)
  }

  private fail(err: unknown): void {
    this.safeDispatch('error', err instanceof Error ? err : new Error(String(err)))
  }

  /** Dispatches an event; a listener that throws does not break the tab's part. */
  private safeDispatch<K extends keyof SiteNodeEvents>(type: K, detail: SiteNodeEvents[K]['detail']): void {
    try {
      this.safeDispatchEvent(type, { detail })
    } catch {
      // the listener's own bug; it must not stop the leader publishing
    }
  }
}

/**
 * Runs `start` in exactly one tab of the site (same origin, same `name`): the
 * leader, elected with Web Locks and held for the life of the tab. The other
 * tabs follow: they get the leader's state (`state` events, from its
 * `status()`) over BroadcastChannel and may send it commands (`send`). When the
 * leader tab closes, a waiting tab is granted the lock and calls `start` in
 * turn; start the node with {@link loadPeerIdentity}'s key so the mesh sees the
 * same peer id.
 *
 * @example
 * ```ts
 * const site = runOncePerSite({
 *   name: 'volunteer',
 *   start: async () => {
 *     const node = await createNode({ relays, privateKey: await loadPeerIdentity() })
 *     await node.start()
 *     return { stop: () => node.stop(), status: () => ({ peerId: node.peerId }) }
 *   },
 * })
 * site.addEventListener('state', (e) => render(e.detail))
 * ```
 */
export function runOncePerSite(options: RunOncePerSiteOptions): SiteNode {
  return new SiteNode(options)
}
