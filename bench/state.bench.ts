// npm run bench:state — shared state over the mesh. For N = 2, 5, 10 and 20
// peers (real libp2p nodes on loopback, a real relay): one peer makes a burst of
// 10,000 map operations; we time until every peer's document has all of them,
// and count the bytes the state protocol puts on each peer's stream per
// operation against the size of Yjs's own encoded updates for those operations
// (measured in the same run). Bursts all in one turn (as an app's loop does)
// for every N, and, for the smallest N, one operation per event-loop turn (the
// worst case for framing: every operation its own message).
// Prints, never asserts. Runs inside a loopback-only network namespace.
import { type NetworkManager, StateBinding, type StateLink, StateManager } from 'peercompute'
import { benchDir, giveUpAfter, type RelayProcess, runWithRelay } from './lib/bench-main.ts'
import { benchPeer } from './lib/peers.ts'

const OPS = 10_000
const SIZES = (process.env.STATE_BENCH_SIZES ?? '2,5,10,20').split(',').map(Number)
giveUpAfter('bench:state', 10)
const dir = benchDir('state')
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

interface Peer {
  net: NetworkManager
  state: StateManager
  binding: StateBinding
  sent: { bytes: number }
}

/** Counts what the state protocol hands the stream: each frame plus its length prefix. */
function counting(link: StateLink, sent: { bytes: number }): StateLink {
  return {
    ...link,
    remotePeer: link.remotePeer,
    send(frame) {
      sent.bytes += frame.length + (frame.length < 128 ? 1 : frame.length < 16384 ? 2 : 3)
      link.send(frame)
    },
    onMessage: (cb) => link.onMessage(cb),
    onClose: (cb) => link.onClose(cb),
    close: () => link.close(),
  }
}

async function until(what: string, cond: () => boolean, ms: number): Promise<number> {
  const t0 = performance.now()
  while (!cond()) {
    if (performance.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`)
    await sleep(2)
  }
  return performance.now() - t0
}

async function mesh(n: number, relay: string): Promise<Peer[]> {
  const peers: Peer[] = []
  for (let i = 0; i < n; i++) {
    const net = await benchPeer(relay, { listen: ['/ip4/127.0.0.1/tcp/0'], heartbeatMs: 1000 })
    await net.start()
    // the spread burst sends 10,000 messages as fast as one peer can: past the default per-peer rate, on purpose
    const state = new StateManager({
      room: 'bench',
      selfId: net.peerId,
      limits: { peerMessagesBurst: 1e6, nodeMessagesBurst: 1e6 },
    })
    const sent = { bytes: 0 }
    const attach = state.attach.bind(state)
    state.attach = (link: StateLink) => attach(counting(link, sent))
    const binding = new StateBinding(state, net)
    await binding.start()
    peers.push({ net, state, binding, sent })
  }
  await until('every peer joined every other', () => peers.every((p) => p.state.peers().length === n - 1), 120_000)
  return peers
}

async function burst(
  peers: Peer[],
  spread: boolean,
  round: number,
  ops: number,
): Promise<{ ms: number; ratio: number; wire: number; yjs: number }> {
  const [src] = peers
  const map = src.state.map<number>(`burst-${round}`)
  let yjs = 0
  const onUpdate = (u: Uint8Array) => {
    yjs += u.length
  }
  src.state.doc.on('update', onUpdate)
  const before = src.sent.bytes
  const t0 = performance.now()
  for (let i = 0; i < ops; i++) {
    map.set(`k${i}`, i)
    if (spread) await new Promise((r) => setImmediate(r))
  }
  const maps = peers.map((p) => p.state.map<number>(`burst-${round}`))
  await until('every peer has the whole burst', () => maps.every((m) => m.size === ops), 120_000)
  const ms = performance.now() - t0
  src.state.doc.off('update', onUpdate)
  await sleep(200) // awareness and stragglers: not counted as the burst's
  const wire = (src.sent.bytes - before) / (peers.length - 1) / ops
  return { ms, wire, yjs: yjs / ops, ratio: wire / (yjs / ops) }
}

async function main(relay: RelayProcess): Promise<void> {
  console.log(`bench:state: ${OPS} map operations from one peer, until every peer has them`)
  console.log('peers  burst               converge ms  wire B/op/link  Yjs update B/op  ratio (target ≤ 1.2×)')
  for (const n of SIZES) {
    const peers = await mesh(n, relay.tcpAddr)
    // a small burst first: links and sync are settled before anything is counted
    await burst(peers, false, 0, 100)
    for (const spread of n === SIZES[0] ? [false, true] : [false]) {
      const r = await burst(peers, spread, spread ? 2 : 1, OPS)
      console.log(
        `${String(n).padStart(5)}  ${(spread ? 'one op per turn' : 'one turn').padEnd(18)}  ${r.ms.toFixed(0).padStart(11)}  ${r.wire.toFixed(2).padStart(14)}  ${r.yjs.toFixed(2).padStart(15)}  ${r.ratio.toFixed(2)}×`,
      )
    }
    for (const p of peers) {
      p.binding.stop()
      p.state.stop()
    }
    await Promise.all(peers.map((p) => p.net.stop()))
  }
}

runWithRelay(dir, main)
