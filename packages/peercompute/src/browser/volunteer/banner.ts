import { BOX_STYLE, BUTTON_STYLE, h } from './dom.js'
import { fill, type VolunteerTexts } from './texts.js'

/** Options of the consent banner. */
export interface BannerInit {
  texts: VolunteerTexts
  site: string
  lang?: string
  onAnswer: (granted: boolean) => void
}

/**
 * The consent banner: a labelled region (screen readers announce its title
 * and text), reachable by keyboard, Escape declines. It opens no connection
 * and loads nothing: it only asks.
 */
export function showBanner(init: BannerInit): { remove(): void } {
  const { texts: t, site } = init
  const title = h('strong', { id: 'pc-volunteer-title' }, fill(t.title, { site }))
  const body = h('p', { id: 'pc-volunteer-body', style: 'margin:6px 0 0' }, fill(t.body, { site }))
  const allow = h('button', { type: 'button', 'data-pc': 'allow', style: BUTTON_STYLE }, t.allow)
  const deny = h('button', { type: 'button', 'data-pc': 'deny', style: BUTTON_STYLE }, t.deny)
  const box = h(
    'section',
    {
      role: 'region',
      'aria-labelledby': 'pc-volunteer-title',
      'aria-describedby': 'pc-volunteer-body',
      'data-pc': 'banner',
      style: BOX_STYLE,
      ...(init.lang ? { lang: init.lang } : {}),
    },
    title,
    body,
    h('div', {}, allow, deny),
  )
  let answered = false
  const answer = (granted: boolean) => {
    if (answered) return
    answered = true
    box.remove()
    init.onAnswer(granted)
  }
  allow.addEventListener('click', () => answer(true))
  deny.addEventListener('click', () => answer(false))
  box.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') answer(false)
  })
  document.body.append(box)
  return { remove: () => box.remove() }
}
