// The volunteer script tag's entry (`peercompute.volunteer.js`, an IIFE): the
// consent banner, the remembered answer, the politeness monitor and the panel.
// The node (libp2p, Yjs, kernels) is a separate file, loaded after consent.
//
//   <script src="peercompute.volunteer.js" data-relay="/dns4/relay.example/tcp/443/wss/p2p/12D3…"
//           data-trust="ed25519:…" data-max-cpu="0.5" async></script>
import { NODE_CHUNK } from './node-start.js'
import { optionsFromDataset, type VolunteerOptions } from './options.js'
import { Volunteer } from './volunteer.js'

export type { VolunteerOptions } from './options.js'
export type { VolunteerState, VolunteerStats } from './volunteer.js'
export { Volunteer }

// currentScript is only set while this file first runs: read the tag now
const script = document.currentScript as HTMLScriptElement | null
const base = script?.src ? new URL('.', script.src).href : new URL('.', location.href).href

/** The volunteer started by the script tag's attributes, if it had `data-relay`. */
export let instance: Volunteer | undefined

/**
 * Starts a volunteer: asks the visitor (unless `consent: 'granted'`), then
 * lends CPU within `maxCpu`. The script tag's `data-*` attributes fill in
 * options not given here. One per page: a later call returns the running one
 * (granting it, with `consent: 'granted'`: a site's own flow after it asked).
 */
export function volunteer(options: Partial<VolunteerOptions> = {}): Volunteer {
  if (instance && instance.state !== 'withdrawn') {
    if (options.consent === 'granted') instance.grant(false)
    return instance
  }
  const fromTag = script ? optionsFromDataset(script.dataset) : {}
  instance = new Volunteer({ ...fromTag, ...options } as VolunteerOptions, new URL(NODE_CHUNK, base).href)
  return instance
}

function auto(): void {
  if (!script?.dataset.relay || script.dataset.auto === 'false') return
  try {
    volunteer()
  } catch (err) {
    console.error('PeerCompute volunteer:', (err as Error).message)
  }
}

// a tag with `async` may run before the body exists
if (document.body) auto()
else document.addEventListener('DOMContentLoaded', auto, { once: true })
