// What examples/tabs shows and exposes, apart from the page's code (the e2e test imports these types).

/** The leader's state, as every tab sees it. */
export interface TabsState {
  peerId: string
  /** The leader tab's start, ms since the epoch. */
  startedAt: number
  /** Node start time in this tab (identity loaded, relay joined), ms. */
  startMs: number
  completed: number
  running: number
  /** Commands the leader's node got, in order (a demo has no pause to apply). */
  commands: Array<'pause' | 'resume' | 'withdraw'>
}

/** What the page exposes to the e2e tests (`window.tabs`). */
export interface TabsPage {
  tabId: string
  role(): string
  /** In the leader: whether any tab of the site is visible. */
  siteVisible(): boolean
  state(): TabsState | undefined
  send(command: 'pause' | 'resume' | 'withdraw'): void
  stop(): Promise<void>
}

declare global {
  interface Window {
    tabs: TabsPage
  }
}
