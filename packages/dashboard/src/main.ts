// The operator dashboard: the relay's snapshot stream (peers, capacity, mesh) and, when the page is served by
// `peercompute serve`, its jobs and stats. Read-only without the token; cancelling a job needs it.
import './style.css'
import { type Charts, makeCharts, RateFromTotals } from './charts.ts'
import { byId, el } from './dom.ts'
import { drawMesh } from './graph.ts'
import { parseJob, parseJobList, parseSnapshot, parseStats } from './parse.ts'
import { renderCapacity, renderJobs, renderPeers } from './tables.ts'
import type { Job, Snapshot } from './types.ts'

const TOKEN_KEY = 'peercompute.token'
/** Jobs kept on the page. */
const MAX_JOBS = 200

/** What the page exposes for tests and the console. */
export interface DashboardPage {
  charts: Charts
  snapshot: Snapshot | null
  jobs: Map<string, Job>
  /** 'serve' when the job API answers, 'relay' otherwise (null until known). */
  mode: 'serve' | 'relay' | null
}

declare global {
  interface Window {
    dashboard: DashboardPage
  }
}

const base = new URL('.', location.href)
const api = (path: string) => new URL(path.replace(/^\//, ''), base).toString()
const token = () => sessionStorage.getItem(TOKEN_KEY) ?? ''
const authHeaders = (): Record<string, string> => (token() ? { authorization: `Bearer ${token()}` } : {})

const charts = makeCharts({ bytes: byId('chart-bytes'), tasks: byId('chart-tasks'), cost: byId('chart-cost') })
const page: DashboardPage = { charts, snapshot: null, jobs: new Map(), mode: null }
window.dashboard = page

const status = byId('status')
const rates = new RateFromTotals()

function onSnapshot(snap: Snapshot): void {
  page.snapshot = snap
  renderCapacity(snap)
  renderPeers(snap)
  drawMesh(byId('mesh') as unknown as SVGSVGElement, snap)
  status.textContent = `live: ${snap.peers.length} peers, updated ${new Date(snap.at).toLocaleTimeString()}`
  // on a plain relay the charts follow the totals the peers publish
  if (page.mode === 'relay') {
    const r = rates.next(snap.at, snap.totals.ok, snap.totals.bytes)
    plot(snap.at, r.bytesPerSec, r.tasksPerSec, snap.totals.costUsd)
  }
}

function plot(atMs: number, bytesPerSec: number, tasksPerSec: number, costUsd: number): void {
  const t = atMs / 1000
  charts.bytes.push(t, bytesPerSec / 1e6)
  charts.tasks.push(t, tasksPerSec)
  charts.cost.push(t, costUsd)
}

let snapshots: EventSource | undefined
function connectSnapshots(): void {
  snapshots?.close()
  const q = token() ? `?token=${encodeURIComponent(token())}` : ''
  snapshots = new EventSource(api(`api/dashboard/stream${q}`))
  snapshots.addEventListener('snapshot', (e) => {
    try {
      onSnapshot(parseSnapshot((e as MessageEvent<string>).data))
    } catch (err) {
      status.textContent = `bad snapshot: ${(err as Error).message}`
    }
  })
  const source = snapshots
  source.addEventListener('error', () => {
    status.textContent = 'disconnected: retrying…'
    // EventSource gives up on an HTTP error (503 when the relay is busy): try again later
    if (source.readyState === EventSource.CLOSED) setTimeout(() => snapshots === source && connectSnapshots(), 5000)
  })
}

function renderAllJobs(): void {
  const list = [...page.jobs.values()].sort((a, b) => (String(b.createdAt) > String(a.createdAt) ? 1 : -1))
  renderJobs(list, token() ? cancelJob : null, showPieces)
}

const FINAL = new Set(['done', 'failed', 'cancelled'])

function upsertJob(job: Job): void {
  if (!job.id) return
  // an event sent before a job ended can arrive after the DELETE's answer: an ended job stays ended
  const known = page.jobs.get(job.id)
  if (known && FINAL.has(known.state) && !FINAL.has(job.state)) return
  page.jobs.set(job.id, job)
  for (const id of page.jobs.keys()) {
    if (page.jobs.size <= MAX_JOBS) break
    page.jobs.delete(id)
  }
  renderAllJobs()
}

function cancelJob(id: string): void {
  fetch(api(`api/jobs/${encodeURIComponent(id)}`), { method: 'DELETE', headers: authHeaders() })
    .then(async (res) => {
      if (res.ok) upsertJob(parseJob(await res.json()))
      else status.textContent = `cancel refused: HTTP ${res.status}`
    })
    .catch((err: Error) => {
      status.textContent = `cancel failed: ${err.message}`
    })
}

function showPieces(job: Job, into: HTMLElement): void {
  fetch(api(`api/jobs/${encodeURIComponent(job.id)}`))
    .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`HTTP ${r.status}`))))
    .then((j) => {
      const pieces = parseJob(j).pieces ?? []
      const list = el('ul', { class: 'pieces' })
      for (const p of pieces.slice(0, 200))
        list.append(
          el(
            'li',
            {},
            `#${p.index} ${p.outcome} on ${p.substrate} ${p.peer.slice(-6)}: ${Math.round(p.durationMs)} ms, $${p.costUsd}`,
          ),
        )
      into.querySelector('ul')?.remove()
      into.append(list)
    })
    .catch((err: Error) => into.append(el('p', {}, `pieces unavailable: ${err.message}`)))
}

/** Jobs and stats: only `peercompute serve` has them; on a plain relay the section stays hidden. */
async function connectJobs(): Promise<void> {
  let res: Response
  try {
    res = await fetch(api('api/jobs?limit=50'), { headers: { accept: 'application/json' } })
  } catch {
    res = new Response(null, { status: 599 })
  }
  if (!res.ok) {
    page.mode = 'relay'
    byId('charts-source').textContent = 'From the piece totals that peers publish to the relay.'
    return
  }
  page.mode = 'serve'
  byId('jobs-section').hidden = false
  byId('charts-source').textContent = "From this node's jobs."
  for (const j of parseJobList(await res.json()).reverse()) upsertJob(j)
  openJobEvents()
}

/** `/api/events`, opened again 5 s after an HTTP error (EventSource itself retries only network errors). */
function openJobEvents(): void {
  const events = new EventSource(api('api/events'))
  events.addEventListener('error', () => {
    if (events.readyState === EventSource.CLOSED) setTimeout(openJobEvents, 5000)
  })
  events.addEventListener('job', (e) => {
    try {
      upsertJob(parseJob(JSON.parse((e as MessageEvent<string>).data)))
    } catch {
      // a malformed event is dropped
    }
  })
  events.addEventListener('stats', (e) => {
    try {
      const s = parseStats((e as MessageEvent<string>).data)
      plot(s.at, s.bytesPerSec, s.tasksPerSec, s.costUsd)
    } catch {
      // a malformed event is dropped
    }
  })
}

async function checkToken(): Promise<void> {
  const state = byId('token-state')
  if (!token()) {
    state.textContent = 'read-only'
    return
  }
  const res = await fetch(api('api/mesh'), { headers: authHeaders() }).catch(() => null)
  state.textContent = res?.ok ? 'token accepted' : `token refused${res ? ` (HTTP ${res.status})` : ''}`
}

const form = byId<HTMLFormElement>('token-form')
const input = byId<HTMLInputElement>('token')
form.addEventListener('submit', (e) => {
  e.preventDefault()
  const t = input.value.trim()
  if (t) sessionStorage.setItem(TOKEN_KEY, t)
  input.value = ''
  void checkToken()
  connectSnapshots()
  renderAllJobs()
})
byId('token-clear').addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY)
  void checkToken()
  connectSnapshots()
  renderAllJobs()
})

void checkToken()
connectJobs()
  .catch((err: Error) => {
    status.textContent = `jobs unavailable: ${err.message}`
  })
  .finally(connectSnapshots)
