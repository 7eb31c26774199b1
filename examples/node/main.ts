import { createNode, type NodeKernel, type NodeStatus } from 'peercompute'

/** What the page exposes to people (the tables) and to the e2e tests (`window.pcnode`). */
export interface NodePage {
  peerId: string
  status(): NodeStatus
  /** The shared map `notes`, as JSON. */
  notes(): Record<string, unknown>
  setNote(key: string, value: unknown): void
  stop(): Promise<void>
}

async function start(): Promise<NodePage> {
  const q = new URLSearchParams(location.search)
  const relay = q.get('relay')
  const node: NodeKernel = await createNode({
    relays: relay ? [relay] : [],
    room: q.get('room') ?? 'peercompute',
    storageMode: q.get('storage') === 'local' ? 'local' : 'memory',
    // the configured relay is always dialled (ws:// on localhost too); peers on this machine need allowPrivate
    dialPolicy: { allowPrivate: true },
    rtcConfiguration: { iceServers: [] },
    heartbeatMs: 1000,
    relayBackoff: { initialMs: 200, maxMs: 2000 },
    statusIntervalMs: 500,
    // a page served from this machine is a local demo: its URL sources may be on loopback too
    urlPolicy: { allowPrivate: location.hostname === '127.0.0.1' || location.hostname === 'localhost' },
    // ?trust=KEY (repeatable): run kernels signed by these publishers, each in a sandbox (opaque origin, no network)
    ...(q.getAll('trust').length ? { trust: q.getAll('trust') } : {}),
  })
  await node.start()
  const notes = node.state.map('notes')
  ;(document.getElementById('me') as HTMLElement).textContent = `${node.peerId} (${node.storageMode} storage)`
  node.addEventListener('status', (e) => render(e.detail))
  node.addEventListener('state:change', () => {
    ;(document.getElementById('notes') as HTMLElement).textContent = JSON.stringify(notes.toJSON(), null, 2)
  })
  addEventListener('pagehide', () => void node.stop())
  return {
    peerId: node.peerId,
    status: () => node.getStatus(),
    notes: () => notes.toJSON(),
    setNote: (k, v) => notes.set(k, v),
    stop: () => node.stop(),
  }
}

function render(st: NodeStatus): void {
  const table = document.getElementById('peers') as HTMLTableElement
  table.innerHTML = '<tr><th>peer</th><th>kind</th><th>connection</th><th>RTT ms</th><th>cores</th></tr>'
  for (const p of st.peers) {
    const row = table.insertRow()
    for (const text of [
      p.id.slice(-12),
      p.caps.substrate,
      p.connected ?? '—',
      p.rttMs?.toFixed(1) ?? '—',
      String(p.caps.cores),
    ])
      row.insertCell().textContent = text
  }
  const ex = st.tasks.executor
  ;(document.getElementById('work') as HTMLElement).textContent =
    `${ex.completed} tasks done, ${ex.running} running, ${ex.failed} failed, ${ex.cancelled} cancelled`
}

declare global {
  interface Window {
    pcnode: NodePage
  }
}
start().then(
  (page) => {
    window.pcnode = page
    document.body.dataset.ready = 'true'
  },
  (err) => {
    ;(document.getElementById('me') as HTMLElement).textContent = `failed: ${(err as Error).message}`
    document.body.dataset.error = String(err)
  },
)
