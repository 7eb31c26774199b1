import { createNode, type Job, type NodeKernel } from 'peercompute'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

/** What the page exposes to the e2e test (`window.hashPage`). */
export interface HashPage {
  peerId: string
  /** Peers connected now. */
  peers(): number
  /** Bytes each peer hashed for the last file (both ops). */
  byPeer(): Record<string, number>
}

const $ = (id: string) => document.getElementById(id) as HTMLElement
const hex = (n: number | bigint, digits: number) => `0x${n.toString(16).padStart(digits, '0')}`
const byPeer = new Map<string, number>()
let chart: uPlot | undefined

/** The per-peer chart: bytes hashed by each peer, as bars. */
function drawChart(self: string): void {
  const ids = [...byPeer.keys()]
  const data: uPlot.AlignedData = [ids.map((_, i) => i), ids.map((id) => (byPeer.get(id) ?? 0) / 2 ** 20)]
  const opts: uPlot.Options = {
    width: Math.min(800, document.body.clientWidth),
    height: 240,
    scales: { x: { time: false, range: [-0.5, Math.max(0.5, ids.length - 0.5)] } },
    axes: [
      {
        splits: () => ids.map((_, i) => i),
        values: (_u, splits) => splits.map((i) => (ids[i] === self ? 'this page' : `…${ids[i]?.slice(-6)}`)),
      },
      { label: 'MiB hashed' },
    ],
    series: [{}, { label: 'MiB', fill: '#4a90d9', stroke: '#2a6099', paths: uPlot.paths.bars?.({ size: [0.6] }) }],
    legend: { show: false },
  }
  chart?.destroy()
  chart = new uPlot(opts, data, $('chart'))
}

async function hash(node: NodeKernel, file: File): Promise<void> {
  const bytes = new Uint8Array(await file.arrayBuffer())
  byPeer.clear()
  const progress = $('progress') as HTMLProgressElement
  progress.value = 0
  $('crc32c').textContent = $('fnv64').textContent = '…'
  delete document.body.dataset.done
  const pieceBytes = Math.min(8 * 2 ** 20, Math.max(256 * 1024, Math.ceil(bytes.length / 32)))
  const done = { crc32c: 0, fnv64: 0 }
  const t0 = performance.now()
  const track = (op: 'crc32c' | 'fnv64', job: Job) => {
    job.addEventListener('progress', (e) => {
      done[op] = e.detail.bytesDone
      progress.value = (done.crc32c + done.fnv64) / (2 * Math.max(1, bytes.length))
    })
    job.addEventListener('piece', (e) => {
      byPeer.set(e.detail.peer, (byPeer.get(e.detail.peer) ?? 0) + e.detail.length)
      drawChart(node.peerId)
    })
    return job.result
  }
  const [crc, fnv] = await Promise.all([
    track('crc32c', node.submit({ op: 'crc32c', data: bytes, pieceBytes })),
    track('fnv64', node.submit({ op: 'fnv64', data: bytes, pieceBytes })),
  ])
  progress.value = 1
  $('crc32c').textContent = hex(crc.result as number, 8)
  $('fnv64').textContent = hex(fnv.result as bigint, 16)
  $('time').textContent = `${(performance.now() - t0).toFixed(0)} ms for ${bytes.length} bytes, ${byPeer.size} peers`
  document.body.dataset.done = 'true'
}

async function start(): Promise<HashPage> {
  const relay = new URLSearchParams(location.search).get('relay')
  const node = await createNode({
    relays: relay ? [relay] : [],
    // peers on this machine (the demo, tests): loopback addresses, no STUN
    dialPolicy: { allowPrivate: true },
    rtcConfiguration: { iceServers: [] },
    heartbeatMs: 1000,
    statusIntervalMs: 1000,
  })
  await node.start()
  addEventListener('pagehide', () => void node.stop())
  $('me').textContent = `this page: ${node.peerId}`
  const input = $('file') as HTMLInputElement
  const run = (f: File | undefined) => {
    if (f) hash(node, f).catch((err: Error) => ($('time').textContent = `failed: ${err.message}`))
  }
  input.addEventListener('change', () => run(input.files?.[0]))
  const drop = $('drop')
  drop.addEventListener('dragover', (e) => {
    e.preventDefault()
    drop.classList.add('over')
  })
  drop.addEventListener('dragleave', () => drop.classList.remove('over'))
  drop.addEventListener('drop', (e) => {
    e.preventDefault()
    drop.classList.remove('over')
    run(e.dataTransfer?.files[0])
  })
  return {
    peerId: node.peerId,
    peers: () => node.getStatus().peers.filter((p) => p.connected).length,
    byPeer: () => Object.fromEntries(byPeer),
  }
}

declare global {
  interface Window {
    hashPage: HashPage
  }
}
start().then(
  (page) => {
    window.hashPage = page
    document.body.dataset.ready = 'true'
  },
  (err: Error) => {
    $('me').textContent = `failed: ${err.message}`
  },
)
