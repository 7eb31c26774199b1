// npm run soak:mesh -- --minutes 30 — a relay (its own process) and 5 Node peers
// exchanging a message every second each. Reports dropped connections (target 0),
// failed messages, and the relay's memory over time. Bounded by --minutes; stops
// everything it started. Runs in a loopback-only network namespace.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { NetworkManager } from 'peercompute'
import { benchPeer } from './lib/peers.ts'
import { rssMiB, startRelayProcess } from './lib/processes.ts'

const { values } = parseArgs({
  options: { minutes: { type: 'string', default: '30' }, peers: { type: 'string', default: '5' } },
})
const minutes = Number(values.minutes)
const n = Number(values.peers)
if (!(minutes > 0) || !(n >= 2)) throw new RangeError('--minutes must be > 0 and --peers ≥ 2')
const CHAT = '/peercompute/soak/1.0.0'
const dir = mkdtempSync(join(tmpdir(), 'pc-soak-'))
const relay = await startRelayProcess(join(dir, 'relay.key'))
const peers: NetworkManager[] = []
let dropped = 0
let relayDrops = 0
let sent = 0
let failed = 0
let received = 0
try {
  for (let i = 0; i < n; i++) {
    const nm = await benchPeer(relay.wsAddr)
    await nm.handle(CHAT, (stream) => {
      stream.addEventListener('message', () => received++)
      stream.addEventListener('remoteCloseWrite', () => void stream.close().catch(() => {}))
    })
    await nm.start()
    peers.push(nm)
  }
  const ids = new Set(peers.map((p) => p.peerId))
  const t0 = Date.now()
  while (
    !peers.every((p) => p.getStatus().connections.filter((c) => !c.relay && c.transport !== 'relayed').length === n - 1)
  ) {
    if (Date.now() - t0 > 60_000) throw new Error('the mesh did not form within 60 s')
    await new Promise((r) => setTimeout(r, 200))
  }
  // from here on, every closed peer-to-peer connection that was direct counts as a drop
  for (const p of peers) {
    p.libp2p.addEventListener('connection:close', (e) => {
      const c = e.detail
      if (ids.has(c.remotePeer.toString()) && !c.limits) dropped++
    })
    p.addEventListener('relay:disconnect', () => relayDrops++)
  }
  console.log(`mesh formed in ${((Date.now() - t0) / 1000).toFixed(1)} s; soaking for ${minutes} min`)
  console.log('| minute | messages sent | failed | received | dropped peer connections | relay drops | relay RSS MiB |')
  console.log('|---:|---:|---:|---:|---:|---:|---:|')
  const tick = setInterval(() => {
    for (const p of peers) {
      const others = [...ids].filter((id) => id !== p.peerId)
      const to = others[Math.floor(Math.random() * others.length)]
      sent++
      p.dialProtocol(to, CHAT)
        .then(async (s) => {
          s.send(new TextEncoder().encode(`${Date.now()}`))
          await s.close().catch(() => {})
        })
        .catch(() => failed++)
    }
  }, 1000)
  for (let m = 1; m <= Math.ceil(minutes); m++) {
    await new Promise((r) => setTimeout(r, Math.min(1, minutes - (m - 1)) * 60_000))
    console.log(
      `| ${m} | ${sent} | ${failed} | ${received} | ${dropped} | ${relayDrops} | ${rssMiB(relay.pid).toFixed(1)} |`,
    )
  }
  clearInterval(tick)
  console.log(
    `\ndropped peer connections: ${dropped} (target 0); relay disconnects: ${relayDrops}; messages failed: ${failed} of ${sent}`,
  )
} finally {
  await Promise.all(peers.map((p) => p.stop()))
  await relay.stop()
  rmSync(dir, { recursive: true, force: true })
}
process.exit(0)
