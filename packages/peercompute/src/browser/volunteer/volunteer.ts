import { showBanner } from './banner.js'
import { ConsentStore } from './consent-store.js'
import type { VolunteerNode } from './node-entry.js'
import { startNode } from './node-start.js'
import { checkVolunteerOptions, type VolunteerOptions } from './options.js'
import { showPanel } from './panel.js'
import { type PauseReason, PolitenessMonitor } from './politeness.js'
import { mergeTexts } from './texts.js'

/** Where a volunteer is: asking, refused, loading the node, working, paused, withdrawn, or failed to start. */
export type VolunteerState = 'asking' | 'declined' | 'starting' | 'running' | 'paused' | 'withdrawn' | 'failed'

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
  error?: string
}

/**
 * One visitor's volunteer: asks first (or takes the site's `consent:
 * 'granted'`), then loads the node chunk and lends CPU politely until the
 * visitor withdraws. Nothing is loaded and no connection is opened before the
 * visitor agrees.
 */
export class Volunteer {
  private readonly o: VolunteerOptions
  private readonly store: ConsentStore
  private readonly nodeUrl: string
  private readonly site = location.host
  private readonly texts
  private stateNow: VolunteerState = 'asking'
  private node?: VolunteerNode
  private monitor?: PolitenessMonitor
  private panel?: ReturnType<typeof showPanel>
  private banner?: { remove(): void }
  private userPaused = false
  private error?: string
  private readonly listeners = new Set<(s: VolunteerStats) => void>()

  constructor(options: VolunteerOptions, nodeUrl: string) {
    checkVolunteerOptions(options)
    this.o = options
    this.nodeUrl = options.nodeUrl ?? nodeUrl
    this.texts = mergeTexts(options.texts)
    this.store = new ConsentStore(safeLocalStorage(), options.rememberDays)
    const remembered = options.consent === 'granted' ? true : this.store.read()
    if (remembered === true) void this.begin()
    else if (remembered === false) this.setState('declined')
    else this.ask()
  }

  /** The state now. */
  get state(): VolunteerState {
    return this.stateNow
  }

  /** Shows the banner again (a "help with computing" link on the site). */
  ask(): void {
    if (this.banner || this.node || this.stateNow === 'starting') return
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
   * through the site's own flow (`remember: false`: the site keeps the answer).
   */
  grant(remember = this.o.consent !== 'granted'): void {
    this.banner?.remove()
    this.banner = undefined
    if (remember) this.store.write(true)
    void this.begin()
  }

  /** Withdraws consent: no task starts from now on, the node stops, the answer is remembered as no. */
  async withdraw(): Promise<void> {
    this.store.withdraw()
    this.setState('withdrawn')
    await this.stop() // the node is paused synchronously first: nothing starts while it shuts down
  }

  /**
   * Stops the node and releases every listener, timer and element, keeping the
   * visitor's answer (a page that goes away, a single-page app that unmounts).
   */
  async stop(): Promise<void> {
    removeEventListener('pagehide', this.onPageHide)
    this.banner?.remove()
    this.banner = undefined
    this.monitor?.stop()
    this.monitor = undefined
    this.panel?.remove()
    this.panel = undefined
    const node = this.node
    this.node = undefined
    node?.pause()
    await node?.stop()
  }

  private readonly onPageHide = (e: PageTransitionEvent) => {
    // a page kept in the back/forward cache comes back with `pageshow`; one that goes away ends its node
    if (!e.persisted) void this.stop()
  }

  /** The pause button. */
  setPaused(paused: boolean): void {
    this.userPaused = paused
    this.monitor?.setUserPaused(paused)
    this.changed()
  }

  /** What was given and the state now. */
  stats(): VolunteerStats {
    const s = this.node?.stats()
    return {
      state: this.stateNow,
      site: this.site,
      tasks: s?.started ?? this.lastTasks,
      cpuSeconds: (s?.busyMs ?? this.lastBusyMs) / 1000,
      refused: s?.refused ?? 0,
      reasons: this.monitor?.state.reasons ?? [],
      ...(s ? { peerId: s.peerId } : {}),
      ...(this.error ? { error: this.error } : {}),
    }
  }

  /** Calls `fn` on every change of state or of what was given; returns what unsubscribes. */
  onChange(fn: (s: VolunteerStats) => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  private lastTasks = 0
  private lastBusyMs = 0

  private async begin(): Promise<void> {
    if (this.stateNow === 'starting' || this.node) return
    this.setState('starting')
    const monitor = new PolitenessMonitor({
      resumeAfterMs: this.o.resumeAfterMs,
      onChange: (p) => {
        if (this.node) p.paused ? this.node.pause() : this.node.resume()
        if (this.node) this.setState(p.paused ? 'paused' : 'running')
        else this.changed()
      },
    })
    this.monitor = monitor
    monitor.start()
    addEventListener('pagehide', this.onPageHide)
    if (this.userPaused) monitor.setUserPaused(true)
    if (this.o.panel !== false) {
      this.panel = showPanel({
        texts: this.texts,
        site: this.site,
        lang: this.o.lang,
        onPause: (p) => this.setPaused(p),
        onWithdraw: () => void this.withdraw(),
      })
    }
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
      })
      if (this.monitor !== monitor) {
        await node.stop() // withdrawn while it loaded
        return
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
      this.monitor = undefined
      this.setState('failed')
    }
  }

  private setState(s: VolunteerState): void {
    this.stateNow = s
    this.changed()
  }

  private changed(): void {
    const st = this.stats()
    this.panel?.update({ state: st.state, userPaused: this.userPaused, tasks: st.tasks, cpuSeconds: st.cpuSeconds })
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
