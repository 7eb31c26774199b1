import { createNode, loadPeerIdentity, runOncePerSite, type TabCommand } from 'peercompute'
import type { TabsState } from './types.ts'

const q = new URLSearchParams(location.search)
const relay = q.get('relay')
const local = location.hostname === '127.0.0.1' || location.hostname === 'localhost'
// "stop it in every tab" is remembered where every tab reads it: a tab granted the lock checks it first
const STOPPED = 'peercompute-tabs-example-stopped'

const name = q.get('site') ?? 'tabs-example'
const site = runOncePerSite({
  name,
  stateIntervalMs: 250,
  mayStart: () => localStorage.getItem(STOPPED) === null,
  start: async ({ signal }) => {
    const t0 = performance.now()
    const node = await createNode({
      relays: relay ? [relay] : [],
      // one identity per node name: two names on one origin run two nodes, which must be two peers
      privateKey: await loadPeerIdentity({ dbName: `peercompute-identity-${name}`, signal }),
      // the configured relay is always dialled (ws:// on localhost too); peers on this machine need allowPrivate
      dialPolicy: { allowPrivate: local },
      rtcConfiguration: { iceServers: [] },
      heartbeatMs: 1000,
      relayBackoff: { initialMs: 200, maxMs: 2000 },
      statusIntervalMs: 500,
      enableWebGPU: false,
      maxWorkers: 1,
      urlPolicy: { allowPrivate: local },
    })
    await node.start()
    const startMs = performance.now() - t0
    const startedAt = Date.now()
    const commands: TabCommand[] = []
    return {
      stop: () => node.stop(),
      command: (c) => {
        commands.push(c)
      },
      status: (): TabsState => {
        const ex = node.getStatus().tasks.executor
        return { peerId: node.peerId, startedAt, startMs, completed: ex.completed, running: ex.running, commands }
      },
    }
  },
})

const $ = (id: string) => document.getElementById(id) as HTMLElement
site.addEventListener('role', (e) => {
  $('role').textContent = e.detail === 'leader' ? 'leader: runs the node' : e.detail
})
site.addEventListener('visibility', (e) => {
  $('visible').textContent = e.detail ? 'some tab of the site is visible' : 'every tab of the site is hidden'
})
site.addEventListener('state', (e) => {
  $('state').textContent = JSON.stringify(e.detail, null, 2)
})
site.addEventListener('error', (e) => {
  $('role').textContent = `failed: ${e.detail.message}`
  document.body.dataset.error = e.detail.message
})
$('ping').addEventListener('click', () => site.send('pause'))
$('withdraw').addEventListener('click', () => {
  localStorage.setItem(STOPPED, '1')
  site.send('withdraw')
})
$('again').addEventListener('click', () => {
  localStorage.removeItem(STOPPED)
  location.reload()
})

window.tabs = {
  tabId: site.tabId,
  role: () => site.role,
  siteVisible: () => site.siteVisible,
  state: () => site.state as TabsState | undefined,
  send: (c) => site.send(c),
  stop: () => site.stop(),
}
document.body.dataset.ready = 'true'
