// When a volunteer works: never while the tab is hidden, the battery is low
// and not charging, the visitor asked to save data, the machine is under
// pressure, or the visitor pressed pause. Bad conditions pause at once; work
// resumes only after conditions have stayed good for `resumeAfterMs`.

/** Why a volunteer is paused. */
export type PauseReason = 'hidden' | 'battery' | 'save-data' | 'pressure' | 'user'

/** A volunteer's politeness state. */
export interface PolitenessState {
  paused: boolean
  /** The conditions that are bad now (empty while resuming after they cleared). */
  reasons: PauseReason[]
}

/** What the monitor reads of the page (the real `document` and `navigator` by default; fakes in tests). */
export interface PolitenessEnv {
  document?: {
    readonly visibilityState: DocumentVisibilityState
    addEventListener(type: 'visibilitychange', fn: () => void): void
    removeEventListener(type: 'visibilitychange', fn: () => void): void
  }
  navigator?: {
    getBattery?: () => Promise<BatteryLike>
    connection?: { saveData?: boolean; addEventListener?: EventTarget['addEventListener'] }
  }
  /** `PressureObserver` where the browser has one. */
  PressureObserver?: new (
    cb: (records: Array<{ state: string }>) => void,
  ) => {
    observe(source: 'cpu'): Promise<void>
    disconnect(): void
  }
}

/** The part of the Battery API read here. */
export interface BatteryLike {
  level: number
  charging: boolean
  addEventListener(type: string, fn: () => void): void
  removeEventListener(type: string, fn: () => void): void
}

/** Options of a PolitenessMonitor. */
export interface PolitenessInit {
  /** Good conditions needed before work resumes, ms (default 30,000). */
  resumeAfterMs?: number
  /** Battery level below which work pauses while not charging (default 0.2). */
  minBattery?: number
  /** Called on every change of `paused`. */
  onChange: (s: PolitenessState) => void
  env?: PolitenessEnv
}

/** Watches the page's conditions and says when a volunteer may work. */
export class PolitenessMonitor {
  private readonly init: Required<Omit<PolitenessInit, 'env'>>
  private readonly env: PolitenessEnv
  private readonly bad = new Set<PauseReason>()
  private pausedNow = true
  private resumeTimer?: ReturnType<typeof setTimeout>
  private readonly cleanups: Array<() => void> = []
  private stopped = false

  constructor(init: PolitenessInit) {
    this.init = { resumeAfterMs: 30_000, minBattery: 0.2, ...init }
    this.env = init.env ?? pageEnv()
  }

  /** The state now. */
  get state(): PolitenessState {
    return { paused: this.pausedNow, reasons: [...this.bad] }
  }

  /** Starts watching; the first verdict is given at once (good conditions start work without waiting). */
  start(): void {
    const { document: doc, navigator: nav } = this.env
    if (doc) {
      const onVis = () => this.set('hidden', doc.visibilityState === 'hidden')
      doc.addEventListener('visibilitychange', onVis)
      this.cleanups.push(() => doc.removeEventListener('visibilitychange', onVis))
      this.bad.add('hidden')
      if (doc.visibilityState !== 'hidden') this.bad.delete('hidden')
    }
    const conn = nav?.connection
    if (conn?.saveData) this.bad.add('save-data')
    conn?.addEventListener?.('change', () => this.set('save-data', conn.saveData === true))
    // the first verdict skips the hysteresis: nothing was running to protect
    if (this.bad.size === 0) this.pausedNow = false
    this.init.onChange(this.state)
    nav?.getBattery?.().then(
      (b) => {
        if (this.stopped) return
        const onBattery = () => this.set('battery', !b.charging && b.level < this.init.minBattery)
        b.addEventListener('levelchange', onBattery)
        b.addEventListener('chargingchange', onBattery)
        this.cleanups.push(() => {
          b.removeEventListener('levelchange', onBattery)
          b.removeEventListener('chargingchange', onBattery)
        })
        onBattery()
      },
      () => {}, // no battery information: nothing to wait for
    )
    const PO = this.env.PressureObserver
    if (PO) {
      try {
        const po = new PO((records) => {
          const last = records[records.length - 1]
          if (last) this.set('pressure', last.state === 'serious' || last.state === 'critical')
        })
        po.observe('cpu').catch(() => {})
        this.cleanups.push(() => po.disconnect())
      } catch {
        // Compute Pressure refused (permissions policy): the other signals still hold
      }
    }
  }

  /** The pause button: `true` pauses now; `false` resumes now if nothing else is bad (the visitor chose it). */
  setUserPaused(paused: boolean): void {
    this.set('user', paused)
    if (!paused && this.bad.size === 0) this.resumeNow()
  }

  /** Stops watching and releases every listener and timer. */
  stop(): void {
    this.stopped = true
    clearTimeout(this.resumeTimer)
    for (const c of this.cleanups.splice(0)) c()
  }

  private set(reason: PauseReason, isBad: boolean): void {
    if (this.stopped || isBad === this.bad.has(reason)) return
    if (isBad) this.bad.add(reason)
    else this.bad.delete(reason)
    if (this.bad.size > 0) {
      clearTimeout(this.resumeTimer)
      this.resumeTimer = undefined
      this.pausedNow = true
      this.init.onChange(this.state)
      return
    }
    if (!this.pausedNow || this.resumeTimer !== undefined) return
    this.init.onChange(this.state)
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = undefined
      if (this.bad.size === 0) this.resumeNow()
    }, this.init.resumeAfterMs)
  }

  private resumeNow(): void {
    clearTimeout(this.resumeTimer)
    this.resumeTimer = undefined
    if (!this.pausedNow || this.stopped) return
    this.pausedNow = false
    this.init.onChange(this.state)
  }
}

/** The real page's signals; `document` may be replaced (the site's visibility across its tabs). */
export function pageEnv(document: PolitenessEnv['document'] = globalThis.document): PolitenessEnv {
  return {
    document,
    navigator: globalThis.navigator as PolitenessEnv['navigator'],
    PressureObserver: (globalThis as { PressureObserver?: PolitenessEnv['PressureObserver'] }).PressureObserver,
  }
}
