import type { VolunteerTexts } from './texts.js'

/** How a volunteer is configured: `PeerCompute.volunteer(options)` or the script tag's `data-*` attributes. */
export interface VolunteerOptions {
  /** Relay multiaddrs (each ending in `/p2p/<relay id>`); `data-relay`, comma-separated. */
  relays: string[]
  /** Publisher keys (`ed25519:…`) whose signed code this volunteer runs; `data-trust`, comma-separated. */
  trust?: string[]
  /** Busy share of each lent core, in (0, 1] (default 0.5); `data-max-cpu`. */
  maxCpu?: number
  /** Origins tasks may fetch data from (only these); `data-allow-origins`, comma-separated. */
  allowOrigins?: string[]
  /** Also fetch from private and loopback hosts (a mesh on one machine or LAN); `data-allow-private`. */
  allowPrivate?: boolean
  /** `'granted'`: the site asked with its own consent flow; `data-consent`. Default: this script's banner asks. */
  consent?: 'granted' | 'ask'
  /** The mesh room (default `peercompute`); `data-room`. */
  room?: string
  /** Most Web Workers lent (default: cores − 1, at least 1); `data-workers`. */
  workers?: number
  /** How long conditions must stay good before work resumes, ms (default 30,000); `data-resume-after-ms`. */
  resumeAfterMs?: number
  /** How long the answer is remembered, days (default 30); `data-remember-days`. */
  rememberDays?: number
  /** The banner's language (`lang` attribute; default the page's); `data-lang`. */
  lang?: string
  /** The site's own words for the banner and panel; `data-text-<key>` (e.g. `data-text-title`). */
  texts?: Partial<VolunteerTexts>
  /** Where the node chunk is (default: `peercompute.volunteer.node.js` beside the loader). */
  nodeUrl?: string
  /** WebRTC settings (tests: `{ iceServers: [] }`); default libp2p's; `data-ice-servers` (URLs, comma-separated; empty: none). */
  rtcConfiguration?: RTCConfiguration
  /** Dial private and loopback peers (a mesh on one machine); `data-dial-private`. */
  dialPrivate?: boolean
  /** Show the panel of what was given (default true); `data-panel="false"` hides it. */
  panel?: boolean
}

/** Most relays, trusted keys and origins a tag may list (each is parsed and kept in memory). */
export const MAX_LIST = 16

function list(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined
  const items = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  if (items.length > MAX_LIST) throw new TypeError(`at most ${MAX_LIST} entries, got ${items.length}`)
  return items
}

function num(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (v.trim() === '' || !Number.isFinite(n))
    throw new TypeError(`data-${name} must be a number, got ${JSON.stringify(v)}`)
  return n
}

function bool(v: string | undefined): boolean | undefined {
  return v === undefined ? undefined : v !== 'false'
}

function iceServers(v: string | undefined): RTCConfiguration | undefined {
  const urls = list(v)
  return urls === undefined ? undefined : { iceServers: urls.length ? [{ urls }] : [] }
}

/** Reads a script tag's `data-*` attributes as options (only those present). */
export function optionsFromDataset(d: DOMStringMap): Partial<VolunteerOptions> {
  const texts: Record<string, string> = {}
  for (const [k, v] of Object.entries(d)) {
    if (k.startsWith('text') && k.length > 4 && v !== undefined) texts[k[4].toLowerCase() + k.slice(5)] = v
  }
  const o: Partial<VolunteerOptions> = {
    relays: list(d.relay),
    trust: list(d.trust),
    maxCpu: num('max-cpu', d.maxCpu),
    allowOrigins: list(d.allowOrigins),
    allowPrivate: bool(d.allowPrivate),
    consent: d.consent === 'granted' ? 'granted' : d.consent === undefined ? undefined : 'ask',
    room: d.room,
    workers: num('workers', d.workers),
    resumeAfterMs: num('resume-after-ms', d.resumeAfterMs),
    rememberDays: num('remember-days', d.rememberDays),
    lang: d.lang,
    texts: Object.keys(texts).length ? (texts as Partial<VolunteerTexts>) : undefined,
    nodeUrl: d.nodeUrl,
    rtcConfiguration: iceServers(d.iceServers),
    dialPrivate: bool(d.dialPrivate),
    panel: bool(d.panel),
  }
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<VolunteerOptions>
}

/** Checks options before anything is shown or loaded; bad ones are a TypeError or RangeError naming the field. */
export function checkVolunteerOptions(o: VolunteerOptions): void {
  if (!o || typeof o !== 'object') throw new TypeError('volunteer takes an options object')
  if (!Array.isArray(o.relays) || o.relays.length === 0 || o.relays.length > MAX_LIST)
    throw new TypeError(`relays must list 1 to ${MAX_LIST} relay multiaddrs`)
  for (const r of o.relays) if (typeof r !== 'string' || !r.includes('/p2p/')) throw new TypeError(`bad relay ${r}`)
  if (o.maxCpu !== undefined && !(o.maxCpu > 0 && o.maxCpu <= 1))
    throw new RangeError(`maxCpu must be in (0, 1], got ${o.maxCpu}`)
  if (o.workers !== undefined && !(Number.isInteger(o.workers) && o.workers >= 1 && o.workers <= 64))
    throw new RangeError(`workers must be an integer from 1 to 64, got ${o.workers}`)
  if (o.resumeAfterMs !== undefined && !(o.resumeAfterMs >= 0 && o.resumeAfterMs <= 3_600_000))
    throw new RangeError(`resumeAfterMs must be from 0 to 3,600,000, got ${o.resumeAfterMs}`)
  if (o.rememberDays !== undefined && !(o.rememberDays > 0 && o.rememberDays <= 365))
    throw new RangeError(`rememberDays must be in (0, 365], got ${o.rememberDays}`)
  for (const origin of o.allowOrigins ?? []) {
    if (new URL(origin).origin !== origin.replace(/\/$/, '')) throw new TypeError(`bad origin ${origin}`)
  }
  if (o.trust !== undefined && (!Array.isArray(o.trust) || o.trust.length > MAX_LIST))
    throw new TypeError(`trust must list at most ${MAX_LIST} publisher keys`)
}
