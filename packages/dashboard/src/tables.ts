// The capacity, peers and jobs tables.
import { byId, el, setRows, shortId } from './dom.ts'
import type { Job, Snapshot } from './types.ts'

const fmt = (n: number, digits = 0) => n.toLocaleString('en', { maximumFractionDigits: digits })
/** Prices are tiny (a Lambda invocation is $0.0000002): significant digits, never exponents. */
const fmtUsd = (n: number) => n.toLocaleString('en', { maximumSignificantDigits: 3, maximumFractionDigits: 12 })

/** Capacity by substrate and the totals row. */
export function renderCapacity(snap: Snapshot): void {
  const tbody = byId<HTMLTableElement>('capacity').tBodies[0]
  setRows(
    tbody,
    Object.entries(snap.capacity)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([substrate, c]) =>
        el(
          'tr',
          { 'data-substrate': substrate },
          el('th', { scope: 'row' }, substrate),
          el('td', {}, c.peers),
          el('td', {}, c.cores),
          el('td', {}, fmt(c.memoryMb)),
          el('td', {}, c.gpus),
        ),
      ),
  )
  byId('total-peers').textContent = String(snap.total.peers)
  byId('total-cores').textContent = String(snap.total.cores)
  byId('total-memory').textContent = fmt(snap.total.memoryMb)
  byId('total-gpus').textContent = String(snap.total.gpus)
}

/** Most peers listed in the table (the capacity table counts them all). */
export const MAX_PEER_ROWS = 500

/** The peers table. */
export function renderPeers(snap: Snapshot): void {
  byId('peer-count').textContent = `(${snap.peers.length})`
  const withAddrs = snap.peers.some((p) => p.addrs)
  setRows(
    byId<HTMLTableElement>('peers').tBodies[0],
    snap.peers
      .slice(0, MAX_PEER_ROWS)
      .map((p) =>
        el(
          'tr',
          { 'data-peer': p.id },
          el('th', { scope: 'row' }, shortId(p.id)),
          el('td', {}, p.substrate),
          el('td', {}, p.cores),
          el('td', {}, p.gpu ? 'yes' : 'no'),
          el('td', {}, p.price.model === 'free' ? 'free' : `$${fmtUsd(p.price.usd)} ${p.price.model}`),
          el('td', {}, p.rttMs === null ? '–' : fmt(p.rttMs, 1)),
          el('td', {}, `${p.load.running} running, ${p.load.queued} queued`),
          el(
            'td',
            { class: 'addrs' },
            ...(p.addrs ? p.addrs.map((a) => el('div', {}, a)) : [withAddrs ? '' : 'token needed']),
          ),
        ),
      ),
  )
}

/** "42% (3 pieces)": bytes done of total, and pieces where the server counts them. */
function progressText(j: Job): string {
  const pct = j.progress.total > 0 ? Math.floor((100 * j.progress.done) / j.progress.total) : 0
  const pieces = j.progress.pieces
  return `${pct}%${pieces === undefined ? '' : ` (${pieces} ${pieces === 1 ? 'piece' : 'pieces'})`}`
}

/** The jobs table; `cancel` is given only with a token. */
export function renderJobs(
  jobs: Job[],
  cancel: ((id: string) => void) | null,
  details: (job: Job, into: HTMLElement) => void,
): void {
  const tbody = byId<HTMLTableElement>('jobs').tBodies[0]
  // an open pieces list survives the table's redraws
  const kept = new Map<string, HTMLDetailsElement>()
  for (const d of Array.from(tbody.querySelectorAll<HTMLDetailsElement>('details[data-job]')))
    kept.set(d.dataset.job as string, d)
  setRows(
    tbody,
    jobs.map((j) => {
      const total = Math.max(j.progress.total, 0)
      const live = j.state === 'queued' || j.state === 'running'
      let more = kept.get(j.id)
      if (!more) {
        const d = el('details', { 'data-job': j.id }, el('summary', {}, 'pieces'))
        d.addEventListener('toggle', () => {
          if (d.open) details(j, d)
        })
        more = d
      }
      return el(
        'tr',
        { 'data-job': j.id, 'data-state': j.state },
        el('th', { scope: 'row' }, shortId(j.id)),
        el('td', {}, j.kernel),
        el('td', { class: 'state' }, j.state),
        el(
          'td',
          {},
          el('progress', { max: total || 1, value: j.progress.done, 'aria-label': `job ${j.id} progress` }),
          el('span', { class: 'progress-text' }, ` ${progressText(j)}`),
        ),
        el('td', {}, more),
        el('td', {}, fmtUsd(j.costUsd)),
        el(
          'td',
          {},
          cancel && live
            ? (() => {
                const b = el('button', { type: 'button', 'aria-label': `cancel job ${j.id}` }, 'Cancel')
                b.addEventListener('click', () => cancel(j.id))
                return b
              })()
            : '',
        ),
      )
    }),
  )
}
