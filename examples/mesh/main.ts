import { createNetworkManager, type NetworkManager, type NetworkStatus } from 'peercompute'

/** The chat protocol of this example: one UTF-8 message per stream. */
const CHAT = '/peercompute/example-chat/1.0.0'

/** What the page exposes to people (the table) and to the e2e test (`window.mesh`). */
export interface MeshPage {
  peerId: string
  status(): NetworkStatus
  send(peer: string, text: string): Promise<void>
  received: Array<{ from: string; text: string }>
  joins: string[]
}

async function start(): Promise<MeshPage> {
  const relay = new URLSearchParams(location.search).get('relay')
  if (!relay) throw new Error('give the relay multiaddr as ?relay=/ip4/.../ws/p2p/...')
  const nm: NetworkManager = await createNetworkManager({
    relays: [relay],
    // the configured relay is always dialled (ws:// on localhost too); peers on this machine need allowPrivate
    dialPolicy: { allowPrivate: true },
    rtcConfiguration: { iceServers: [] },
    heartbeatMs: 1000,
    relayBackoff: { initialMs: 200, maxMs: 2000 },
    capabilities: () => ({
      cores: navigator.hardwareConcurrency ?? 1,
      memoryMb: 0,
      gpu: 'gpu' in navigator,
      kernels: ['counteq', 'crc32c', 'fnv64', 'xor', 'add'],
      substrate: 'browser',
      price: { model: 'free', usd: 0 },
    }),
  })
  const page: MeshPage = {
    peerId: nm.peerId,
    status: () => nm.getStatus(),
    received: [],
    joins: [],
    async send(peer, text) {
      const s = await nm.dialProtocol(peer, CHAT)
      s.send(new TextEncoder().encode(text))
      // libp2p's WebRTC close() can reject with its close event although the stream did close
      await s.close().catch((err) => {
        if (s.status !== 'closed') s.abort(err instanceof Error ? err : new Error('close failed'))
      })
    },
  }
  await nm.handle(CHAT, (stream, conn) => {
    const parts: Uint8Array[] = []
    stream.addEventListener('message', (e) => parts.push(e.data.subarray()))
    stream.addEventListener('remoteCloseWrite', () => {
      const text = new TextDecoder().decode(concat(parts))
      page.received.push({ from: conn.remotePeer.toString(), text })
      const li = document.createElement('li')
      li.textContent = `${conn.remotePeer.toString().slice(-8)}: ${text}`
      document.getElementById('messages')?.append(li)
      void stream.close()
    })
  })
  nm.addEventListener('peer:join', (e) => page.joins.push(e.detail.id))
  await nm.start()
  ;(document.getElementById('me') as HTMLElement).textContent = nm.peerId
  setInterval(() => render(nm.getStatus()), 500)
  addEventListener('pagehide', () => void nm.stop())
  return page
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

function render(st: NetworkStatus): void {
  const table = document.getElementById('peers') as HTMLTableElement
  table.innerHTML = '<tr><th>peer</th><th>kind</th><th>connection</th><th>RTT ms</th></tr>'
  for (const p of st.peers) {
    const row = table.insertRow()
    for (const text of [p.id.slice(-12), p.caps.substrate, p.connected ?? '—', p.rttMs?.toString() ?? '—'])
      row.insertCell().textContent = text
  }
}

declare global {
  interface Window {
    mesh: MeshPage
  }
}
start().then(
  (page) => {
    window.mesh = page
    document.body.dataset.ready = 'true'
  },
  (err) => {
    ;(document.getElementById('me') as HTMLElement).textContent = `failed: ${(err as Error).message}`
    document.body.dataset.error = String(err)
  },
)
