import { BOX_STYLE, BUTTON_STYLE, h } from './dom.js'
import { fill, type VolunteerTexts } from './texts.js'

/** What the panel shows. */
export interface PanelView {
  state: string
  /** The visitor pressed pause (the button then offers to resume). */
  userPaused: boolean
  tasks: number
  cpuSeconds: number
}

/** Options of the panel. */
export interface PanelInit {
  texts: VolunteerTexts
  site: string
  lang?: string
  onPause: (paused: boolean) => void
  onWithdraw: () => void
}

/**
 * The volunteer's panel: for which site it computes, what it gave (tasks,
 * CPU seconds), its state (announced politely to screen readers), a pause
 * button and a button that withdraws consent.
 */
export function showPanel(init: PanelInit): { update(v: PanelView): void; remove(): void } {
  const { texts: t, site } = init
  const status = h('span', { 'aria-live': 'polite', 'data-pc': 'state' })
  const given = h('span', { 'data-pc': 'given' })
  const pause = h(
    'button',
    { type: 'button', 'data-pc': 'pause', style: BUTTON_STYLE, 'aria-pressed': 'false' },
    t.pause,
  )
  const withdraw = h('button', { type: 'button', 'data-pc': 'withdraw', style: BUTTON_STYLE }, t.withdraw)
  const title = h('strong', { id: 'pc-volunteer-panel-title' }, fill(t.panelTitle, { site }))
  const box = h(
    'section',
    {
      role: 'region',
      'aria-labelledby': 'pc-volunteer-panel-title',
      'data-pc': 'panel',
      style: `${BOX_STYLE};font-size:13px`,
      ...(init.lang ? { lang: init.lang } : {}),
    },
    title,
    h('div', {}, status, ' · ', given),
    h('div', {}, pause, withdraw),
  )
  let paused = false
  pause.addEventListener('click', () => init.onPause(!paused))
  withdraw.addEventListener('click', () => init.onWithdraw())
  document.body.append(box)
  return {
    update(v) {
      paused = v.userPaused
      const word = v.state === 'running' ? t.running : v.state === 'paused' ? t.paused : t.waiting
      if (status.textContent !== word) status.textContent = word
      given.textContent = fill(t.given, { tasks: v.tasks, seconds: v.cpuSeconds.toFixed(1) })
      pause.textContent = v.userPaused ? t.resume : t.pause
      pause.setAttribute('aria-pressed', String(v.userPaused))
    },
    remove: () => box.remove(),
  }
}
