/** Every string the banner and the panel show; a site replaces any of them in its own words and language. */
export interface VolunteerTexts {
  title: string
  body: string
  allow: string
  deny: string
  panelTitle: string
  pause: string
  resume: string
  withdraw: string
  running: string
  paused: string
  waiting: string
  given: string
}

/** The default (English) texts. `{site}`, `{tasks}` and `{seconds}` are filled in. */
export const DEFAULT_TEXTS: VolunteerTexts = {
  title: 'Lend your spare computing power?',
  body: '{site} asks to use part of your processor while this page is open, for its compute mesh. Nothing runs until you agree; it pauses when the tab is hidden or the battery is low, and you can stop at any time.',
  allow: 'Allow',
  deny: 'No thanks',
  panelTitle: 'Computing for {site}',
  pause: 'Pause',
  resume: 'Resume',
  withdraw: 'Stop and withdraw consent',
  running: 'running',
  paused: 'paused',
  waiting: 'starting',
  given: '{tasks} tasks, {seconds} CPU seconds given',
}

/** Fills `{name}` placeholders. */
export function fill(text: string, values: Record<string, string | number>): string {
  return text.replace(/\{(\w+)\}/g, (m, k: string) => (Object.hasOwn(values, k) ? String(values[k]) : m))
}

/** The defaults with the site's strings over them (strings only; anything else is ignored). */
export function mergeTexts(over: Partial<VolunteerTexts> | undefined): VolunteerTexts {
  const out = { ...DEFAULT_TEXTS }
  for (const k of Object.keys(DEFAULT_TEXTS) as Array<keyof VolunteerTexts>) {
    const v = over?.[k]
    if (typeof v === 'string' && v.length <= 2000) out[k] = v
  }
  return out
}
