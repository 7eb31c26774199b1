import { showBanner } from './banner.js'
import { ConsentStore } from './consent-store.js'
import type { VolunteerNode } from './node-entry.js'
import { startNode } from './node-start.js'
import { checkVolunteerOptions, type VolunteerOptions } from './options.js'
import { showPanel } from './panel.js'
import { type PauseReason, PolitenessMonitor, pageEnv } from './politeness.js'
import { parseSiteState, type SiteVolunteerState, siteVisibilityDocument } from './site-state.js'
import type { TabCommand } from './tabs/messages.js'
import { runOncePerSite, type SiteNode } from './tabs/run-once-per-site.js'
import type { SiteNodeHandle } from './tabs/site-node-types.js'
import { mergeTexts } from './texts.js'

/**
 * Where a volunteer is: asking, refused, loading the node, working, paused,
 * withdrawn, or failed to start. In a tab that follows (another tab of the
 * site runs the node), the leader's starting, running or paused.
 */
export type VolunteerState = 'asking' | 'declined' | 'starting' | 'running' | 'paused' | 'withdrawn' | 'failed'

/** This tab's part: it runs the site's node (`leader`), shows another tab's (`follower`), or runs one alone. */
export type VolunteerRole = 'leader' | 'follower' | 'alone' | 'none'

/** What a volunteer gave and where it stands (the panel shows it; the page may read it). */
export interface VolunteerStats {
  state: VolunteerState
  /** The site the work is for (this page's host). */
  site: string
  /** Tasks started on this visitor's machine / CPU seconds they took. */
  tasks: number
  cpuSeconds: number
  /** Tasks refused while paused (the submitter ran them elsewhere). */
  refused: number
  /** Why it is paused now. */
  reasons: PauseReason[]
  peerId?: string
  /** Whether this tab runs the node. */
  role: VolunteerRole
  error?: string
}

/**
 * One visitor's volunteer: asks first (or takes the site's `consent:
 * 'granted'`), then loads the node chunk and lends CPU politely until the
 * visitor withdraws. Nothing is loaded and no connection is opened before the
 * visitor agrees. One node per site: the tabs elect a leader that runs it
 * (`runOncePerSite`); the others show its state and send it their buttons.
 */
export class Volunteer {
  private readonly o: VolunteerOptions
  private readonly store: ConsentStore
  private readonly nodeUrl: string
  private readonly site = location.host
  private readonly texts
  private stateNow: VolunteerState = 'asking'
  private roleNow: VolunteerRole = 'none'
  private node?: VolunteerNode
  private monitor?: PolitenessMonitor
  private siteNode?: SiteNode
  private leaderState?: SiteVolunteerState
  private panel?: ReturnType<typeof showPanel>
  private banner?: { remove(): void }
  private userPaused = false
  private error?: string
  private lastTasks = 0
  private lastBusyMs = 0
  private readonly listeners = new Set<(s: VolunteerStats) => void>()

  constructor(options: VolunteerOptions, nodeUrl: string) {
    checkVolunteerOptions(options)
    this.o = options
    this.nodeUrl = options.nodeUrl ?? nodeUrl
    this.texts = mergeTexts(options.texts)
    this.store = new ConsentStore(safeLocalStorage(), options.rememberDays)
    const remembered = options.consent === 'granted' ? true : this.store.read()
    if (remembered === true) this.begin()
    else if (remembered === false) this.setState('declined')
    else this.ask()
  }

  /** The state now. */
  get state(): VolunteerState {
    return this.stateNow
  }

  /** Shows the banner again (a "help with computing" link on the site). */
  ask(): void {
    if (this.banner || this.siteNode || this.monitor) return
    this.setState('asking')
    this.banner = showBanner({
      texts: this.texts,
      site: this.site,
      lang: this.o.lang,
      onAnswer: (granted) => {
        this.banner = undefined
        if (granted) this.grant()
        else {
          this.store.withdraw()
          this.setState('declined')
        }
      },
    })
  }

  /**
   * The visitor agreed: through the banner (remembered for `rememberDays`), or
   * through the site's own flow (`remember: false`: the site keeps the answer,
   * and it replaces one this script remembered).
   */
  grant(remember = this.o.consent !== 'granted'): void {
    this.banner?.remove()
    this.banner = undefined
    if (remember) this.store.write(true)
    else this.store.clear()
    this.begin()
  }

  /** Withdraws consent in every tab of the site: no task starts from now on, the node stops, remembered as no. */
  async withdraw(): Promise<void> {
    this.store.withdraw()
    this.siteNode?.send('withdraw') // every tab hears it, this one included
    await this.withdrawHere()
  }

  /**
   * Stops this tab's part and releases every listener, timer and element,
   * keeping the visitor's answer (a page that goes away; another tab of the
   * site then takes the node over).
   */
  async stop(): Promise<void> {
    removeEventListener('pagehide', this.onPageHide)
    this.banner?.remove()
    this.banner = undefined
    this.panel?.remove()
    this.panel = undefined
    const site = this.siteNode
    this.siteNode = undefined
    this.node?.pause()
    await site?.stop() // the leader's handle stops the node
    await this.stopNode()
  }

  /** The pause button (in any tab: the leader applies it). */
  setPaused(paused: boolean): void {
    if (this.siteNode) this.siteNode.send(paused ? 'pause' : 'resume')
    else this.applyPause(paused)
  }

  /** What was given and the state now (in a follower: the leader's). */
  stats(): VolunteerStats {
    const s = this.node?.stats()
    const l = this.roleNow === 'follower' ? this.leaderState : undefined
    const state: VolunteerState =
      l && (this.stateNow === 'starting' || this.stateNow === 'running' || this.stateNow === 'paused')
        ? l.state
        : this.stateNow
    return {
      state,
      site: this.site,
      tasks: l?.tasks ?? s?.started ?? this.lastTasks,
      cpuSeconds: l?.cpuSeconds ?? (s?.busyMs ?? this.lastBusyMs) / 1000,
      refused: l?.refused ?? s?.refused ?? 0,
      reasons: (l?.reasons as PauseReason[] | undefined) ?? this.monitor?.state.reasons ?? [],
      role: this.roleNow,
      ...(l?.peerId ? { peerId: l.peerId } : s ? { peerId: s.peerId } : {}),
      ...(this.error ? { error: this.error } : {}),
    }
  }

  /** Calls `fn` on every change of state or of what was given; returns what unsubscribes. */
  onChange(fn: (s: VolunteerStats) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  private readonly onPageHide = (e: PageTransitionEvent) => {
    // a page kept in the back/forward cache comes back with `pageshow`; one that goes away ends its part
    if (!e.persisted) void this.stop()
  }

  private begin(): void {
    if (this.siteNode || this.monitor || this.stateNow === 'withdrawn') return
    this.setState('starting')
    addEventListener('pagehide', this.onPageHide)
    if (this.o.panel !== false) {
      this.panel = showPanel({
        texts: this.texts,
        site: this.site,
        lang: this.o.lang,
        onPause: (p) => this.setPaused(p),
        onWithdraw: () => void this.withdraw(),
      })
    }
    let site: SiteNode
    try {
      site = runOncePerSite({
        name: `volunteer:${this.o.room ?? 'peercompute'}`,
        // a withdrawal in another tab may arrive after its lock was released: the stored answer tells
        mayStart: () => this.stateNow !== 'withdrawn' && this.store.read() !== false,
        start: ({ signal }) => this.lead(signal, site),
      })
    } catch (err) {
      // no Web Locks or BroadcastChannel (an insecure context, an old browser): this tab runs its own node
      this.log(err)
      this.roleNow = 'alone'
      this.lead(new AbortController().signal).catch(() => {})
      return
    }
    this.siteNode = site
    site.addEventListener('role', (e) => {
      this.roleNow = e.detail === 'leader' ? 'leader' : e.detail === 'follower' ? 'follower' : this.roleNow
      this.changed()
    })
    site.addEventListener('state', (e) => {
      if (this.roleNow !== 'follower') return
      this.leaderState = parseSiteState(e.detail) ?? this.leaderState
      this.changed()
    })
    site.addEventListener('command', (e) => this.onCommand(e.detail))
    site.addEventListener('error', (e) => this.log(e.detail))
  }

  /** This tab runs the site's node: politeness on the site's visibility, the node from the chunk. */
  private async lead(signal: AbortSignal, site?: SiteNode): Promise<SiteNodeHandle> {
    const monitor = new PolitenessMonitor({
      resumeAfterMs: this.o.resumeAfterMs,
      env: site ? pageEnv(siteVisibilityDocument(site)) : undefined,
      onChange: (p) => {
        if (this.node) p.paused ? this.node.pause() : this.node.resume()
        if (this.node) this.setState(p.paused ? 'paused' : 'running')
        else this.changed()
      },
    })
    this.monitor = monitor
    monitor.start()
    if (this.userPaused) monitor.setUserPaused(true)
    try {
      const node = await startNode(this.nodeUrl, {
        relays: this.o.relays,
        room: this.o.room,
        trust: this.o.trust,
        maxCpu: this.o.maxCpu ?? 0.5,
        workers: this.o.workers,
        allowOrigins: this.o.allowOrigins,
        allowPrivate: this.o.allowPrivate,
        dialPrivate: this.o.dialPrivate,
        rtcConfiguration: this.o.rtcConfiguration,
        paused: monitor.state.paused,
        // with tabs coordinated, every leader is the same peer; a lone tab gets a fresh key
        ...(site ? { identityDb: `peercompute-volunteer-${this.o.room ?? 'peercompute'}`, signal } : {}),
      })
      if (this.monitor !== monitor || signal.aborted) {
        await node.stop() // withdrawn or stopped while it loaded
        throw new Error('the volunteer stopped while its node started')
      }
      this.node = node
      if (monitor.state.paused) node.pause()
      else node.resume()
      node.onChange(() => {
        const s = node.stats()
        this.lastTasks = s.started
        this.lastBusyMs = s.busyMs
        this.changed()
      })
      this.setState(monitor.state.paused ? 'paused' : 'running')
    } catch (err) {
      this.error = (err as Error).message
      monitor.stop()
      if (this.monitor === monitor) this.monitor = undefined
      if (this.stateNow !== 'withdrawn') this.setState('failed')
      throw err
    }
    return {
      stop: () => this.stopNode(),
      status: () => {
        const s = this.stats()
        return {
          state: s.state === 'paused' || s.state === 'running' ? s.state : 'starting',
          tasks: s.tasks,
          cpuSeconds: s.cpuSeconds,
          refused: s.refused,
          userPaused: this.userPaused,
          reasons: s.reasons,
          ...(s.peerId ? { peerId: s.peerId } : {}),
        } satisfies SiteVolunteerState
      },
      command: (c) => {
        if (c === 'withdraw') this.node?.pause() // at once; the command event withdraws this tab's part
      },
    }
  }

  /** A command from any tab of the site (this one included). */
  private onCommand(c: TabCommand): void {
    if (c === 'withdraw') void this.withdrawHere()
    else this.applyPause(c === 'pause')
  }

  private applyPause(paused: boolean): void {
    this.userPaused = paused
    this.monitor?.setUserPaused(paused)
    this.changed()
  }

  private async withdrawHere(): Promise<void> {
    if (this.stateNow === 'withdrawn') return
    this.node?.pause() // synchronous: nothing starts while the node shuts down
    this.setState('withdrawn')
    await this.stop()
  }

  /** Stops this tab's node and monitor, if it runs them. */
  private async stopNode(): Promise<void> {
    this.monitor?.stop()
    this.monitor = undefined
    const node = this.node
    this.node = undefined
    node?.pause()
    await node?.stop()
    if (this.stateNow === 'running' || this.stateNow === 'paused' || this.stateNow === 'starting') this.changed()
  }

  private log(err: unknown): void {
    this.error = (err as Error)?.message ?? String(err)
    console.warn('PeerCompute volunteer:', this.error)
  }

  private setState(s: VolunteerState): void {
    this.stateNow = s
    this.changed()
  }

  private changed(): void {
    const st = this.stats()
    const userPaused = this.roleNow === 'follower' ? (this.leaderState?.userPaused ?? false) : this.userPaused
    this.panel?.update({ state: st.state, userPaused, tasks: st.tasks, cpuSeconds: st.cpuSeconds })
    document.documentElement.dataset.peercompute = st.state
    for (const fn of this.listeners) fn(st)
  }
}

function safeLocalStorage(): Storage | undefined {
  try {
    return globalThis.localStorage
  } catch {
    return undefined // a sandboxed frame or disabled storage
  }
}
