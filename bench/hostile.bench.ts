// npm run bench:hostile — memory and service under attack. Prints, never asserts.
// A relay and a victim worker run in their own processes; an honest submitter
// here runs crc32c jobs on the victim the whole time. Each attack runs at full
// speed (bounded only by our own socket's back-pressure) for --seconds (default
// 60) from plain js-libp2p attackers with fresh peer ids. Printed per attack:
// the victim's and the relay's peak RSS next to their idle RSS, and the honest
// throughput during the attack next to the throughput without one.
// Runs inside a loopback-only network namespace (scripts/netns-run.js).
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import * as encoding from 'lib0/encoding'
import {
  createNode,
  decodeRegistryMessage,
  encodeFrame,
  encodeRegistryMessage,
  encodeStateMessage,
  encodeTaskMessage,
  type NodeKernel,
  REGISTRY_PROTOCOL,
  STATE_PROTOCOL,
  TASK_PROTOCOL,
  toChunks,
} from 'peercompute'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import { type Attacker, type RawStream, startAttacker } from '../test/hostile/attacker.ts'
import { startWorkerProcess, TEST_PEER } from '../test/integration/helpers.ts'
import { killOnExit, rssMiB, startRelayProcess, stopProcess } from './lib/processes.ts'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string' },
    only: { type: 'string' },
    // child mode: run one attack against these addresses for --seconds, then exit
    attack: { type: 'string' },
    relay: { type: 'string' },
    'victim-addr': { type: 'string' },
  },
})
const SECONDS = Number(values.seconds ?? 60)
const BASE_SECONDS = Math.min(10, SECONDS)
const guard = setTimeout(
  () => {
    console.error('bench:hostile: over its time budget, giving up')
    process.exit(1)
  },
  (SECONDS * 4 + 5 * BASE_SECONDS + 120) * 1000,
)
guard.unref()

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const MiB = 1024 * 1024

/** Runs `body` until `stop` is set; every error is the attack's own business (the victim may cut it off). */
async function loop(stop: { done: boolean }, body: () => Promise<void>): Promise<void> {
  while (!stop.done) {
    try {
      await body()
    } catch (err) {
      if (process.env.DEBUG_ATTACK) console.error(`attack: ${(err as Error).message}`)
      await sleep(5)
    }
  }
}

/** Muxer messages the attack sent: one a send (a frame each, or a frame's byte while trickling). */
let sent = 0

/** Sends `bytes` as one message, waiting for our own buffer to drain (full speed, bounded memory on our side). */
async function send(s: RawStream, bytes: Uint8Array): Promise<boolean> {
  if (s.closed) return false
  sent++
  // full speed, but no faster than the victim reads: what it has not taken stays below 4 MiB on our side
  if (!s.raw(bytes) || s.stream.writeBufferLength > 4 * 1024 * 1024)
    await s.stream.onDrain({ signal: AbortSignal.timeout(2000) }).catch(() => {})
  // a drain that resolves at once would keep us in microtasks for ever: let timers and sockets run
  if (sent % 64 === 0) await new Promise((r) => setImmediate(r))
  return !s.closed
}

/** Sends `payload` as one length-prefixed frame (see send). */
const put = (s: RawStream, payload: Uint8Array): Promise<boolean> => send(s, encodeFrame(payload))

/** A fresh attacker (new peer id) for each round: limits per peer id buy nothing. */
async function withFreshAttacker(stop: { done: boolean }, round: (a: Attacker) => Promise<void>): Promise<void> {
  await loop(stop, async () => {
    // from 127.0.0.2: per-IP limits are the relay's business, and the honest peers are on 127.0.0.1
    const a = await startAttacker({ localAddress: '127.0.0.2' })
    try {
      await round(a)
    } finally {
      await a.stop().catch(() => {})
    }
  })
}

type Attack = (ctx: { relay: string; victim: string; victimAddr: string }, stop: { done: boolean }) => Promise<void>

const ATTACKS: Record<string, Attack> = {
  /** Task requests that declare 64 MiB of inline input and never send it. */
  'declare-never-send': async ({ victimAddr }, stop) => {
    await Promise.all(
      Array.from({ length: 8 }, () =>
        withFreshAttacker(stop, async (a) => {
          const s = await a.open(victimAddr, TASK_PROTOCOL)
          for (let id = 1; !stop.done && id < 100_000; id++) {
            const header = {
              kernel: 'crc32c',
              source: { kind: 'inline' as const, length: 64 * MiB },
              deadlineMs: 300_000,
            }
            if (!(await put(s, encodeTaskMessage({ type: 'request', id, header, data: new Uint8Array(0) })))) return
          }
        }),
      ),
    )
  },
  /** A 64 KiB task frame sent a byte per muxer frame, again and again: costly framing would burn the victim's CPU. */
  'frame-trickle': async ({ victimAddr }, stop) => {
    await Promise.all(
      Array.from({ length: 2 }, () =>
        withFreshAttacker(stop, async (a) => {
          const s = await a.open(victimAddr, TASK_PROTOCOL)
          const header = { kernel: 'crc32c', source: { kind: 'inline' as const, length: 65_000 }, deadlineMs: 300_000 }
          // frame after frame while the stream lasts (a victim that closes it cuts the round short)
          for (let id = 1; !stop.done && id < 100_000; id++) {
            const bytes = encodeFrame(encodeTaskMessage({ type: 'request', id, header, data: new Uint8Array(65_000) }))
            for (let i = 0; i < bytes.length && !stop.done; i++) if (!(await send(s, bytes.subarray(i, i + 1)))) return
          }
        }),
      ),
    )
  },
  /** Valid tiny requests as fast as the socket takes them. */
  'request-flood': async ({ victimAddr }, stop) => {
    await Promise.all(
      Array.from({ length: 4 }, () =>
        withFreshAttacker(stop, async (a) => {
          const s = await a.open(victimAddr, TASK_PROTOCOL)
          const header = {
            kernel: 'counteq',
            params: { imm: 1 },
            source: { kind: 'inline' as const, length: 1 },
            deadlineMs: 1000,
          }
          for (let id = 1; !stop.done && id < 1_000_000; id++) {
            if (!(await put(s, encodeTaskMessage({ type: 'request', id, header, data: Uint8Array.of(1) })))) return
          }
        }),
      ),
    )
  },
  /** Announce, heartbeat, mesh and subscribe floods, reopening the stream; subscribers that never read. */
  'registry-flood': async ({ relay }, stop) => {
    const caps = {
      cores: 4096,
      memoryMb: 1 << 20,
      gpu: true,
      kernels: Array.from({ length: 64 }, (_, i) => `k${i}`.padEnd(64, 'x')),
      substrate: 'node' as const,
      price: { model: 'free' as const, usd: 0 },
    }
    const load = { running: 0, queued: 0 }
    const addrs = Array.from({ length: 32 }, (_, i) => `/ip4/127.0.0.1/tcp/${1000 + i}`)
    const sleepers: Attacker[] = []
    for (let i = 0; i < 4; i++) {
      const a = await startAttacker({ localAddress: '127.0.0.2' })
      sleepers.push(a)
      const s = await a.open(relay, REGISTRY_PROTOCOL, { read: false })
      s.frame(encodeRegistryMessage({ type: 'subscribe' }))
    }
    await Promise.all(
      Array.from({ length: 4 }, () =>
        withFreshAttacker(stop, async (a) => {
          for (let reopen = 0; !stop.done && reopen < 50; reopen++) {
            const s = await a.open(relay, REGISTRY_PROTOCOL)
            for (let i = 0; !stop.done && i < 2000; i++) {
              const m =
                i % 4 === 0
                  ? encodeRegistryMessage({ type: 'announce', addrs, caps, load: { running: i, queued: 0 } })
                  : i % 4 === 1
                    ? encodeRegistryMessage({ type: 'heartbeat', load: { running: i, queued: i } })
                    : i % 4 === 2
                      ? encodeRegistryMessage({ type: 'subscribe' })
                      : encodeRegistryMessage({ type: 'mesh', links: [] })
              if (!(await put(s, m))) break
            }
            s.stream.abort(new Error('reopen'))
          }
        }),
      ),
    )
    await Promise.all(sleepers.map((a) => a.stop().catch(() => {})))
    void load
  },
  /** Joins the open room and sends large Yjs updates as fast as they go. */
  'state-flood': async ({ victimAddr }, stop) => {
    await Promise.all(
      Array.from({ length: 2 }, () =>
        withFreshAttacker(stop, async (a) => {
          const s = await a.open(victimAddr, STATE_PROTOCOL)
          const send = async (m: Parameters<typeof encodeStateMessage>[0]) => {
            for (const f of toChunks(encodeStateMessage(m))) if (!(await put(s, f))) return false
            return true
          }
          if (!(await send({ kind: 'join', room: 'peercompute', proof: new Uint8Array(0) }))) return
          const junk = 'x'.repeat(256 * 1024)
          for (let i = 0; !stop.done && i < 100_000; i++) {
            // a fresh document (a new client) per update: each is new to the victim, and ours stays small
            const doc = new Y.Doc()
            doc.getMap('bloat').set(`k${i}`, junk)
            const update = Y.encodeStateAsUpdate(doc)
            doc.destroy()
            const e = encoding.createEncoder()
            syncProtocol.writeUpdate(e, update)
            const payload = encoding.toUint8Array(e)
            if (!(await send({ kind: 'sync', payload }))) return
          }
        }),
      ),
    )
  },
}

/** Honest crc32c jobs on the victim for `seconds`: MB/s of input checked. */
async function honest(sub: NodeKernel, victim: string, seconds: number): Promise<number> {
  const data = new Uint8Array(16 * MiB).map((_, i) => (i * 31) & 0xff)
  const t0 = performance.now()
  let bytes = 0
  let failed = 0
  while (performance.now() - t0 < seconds * 1000) {
    try {
      const r = await sub.compute.submit({
        op: 'crc32c',
        data,
        peers: [victim],
        includeLocal: false,
        pieceBytes: 4 * MiB,
      }).result
      if (r.success) bytes += data.length
    } catch {
      failed++
    }
  }
  if (failed) console.log(`  (${failed} honest jobs failed)`)
  return bytes / MiB / ((performance.now() - t0) / 1000)
}

/** Peak RSS of each pid, sampled every 100 ms until `stop.done`. */
async function peakRss(pids: number[], stop: { done: boolean }): Promise<number[]> {
  const peak = pids.map(() => 0)
  while (!stop.done) {
    pids.forEach((p, i) => {
      try {
        peak[i] = Math.max(peak[i], rssMiB(p))
      } catch {
        // it died: the table says so
      }
    })
    await sleep(100)
  }
  return peak
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pc-bench-hostile-'))
  try {
    await run(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

async function run(dir: string): Promise<void> {
  const relay = await startRelayProcess(join(dir, 'relay.key'))
  const victim = await startWorkerProcess(relay.wsAddr)
  killOnExit(victim.proc)
  const sub = await createNode({ ...TEST_PEER, enableWebGPU: false, maxWorkers: 1, relays: [relay.wsAddr] })
  await sub.start()
  // the victim's direct address, as the relay tells every subscriber
  const spy = await startAttacker()
  const reg = await spy.open(relay.tcpAddr, REGISTRY_PROTOCOL)
  reg.frame(encodeRegistryMessage({ type: 'subscribe' }))
  let victimAddr = ''
  for (let i = 0; i < 200 && !victimAddr; i++) {
    for (const f of reg.frames) {
      const m = decodeRegistryMessage(f)
      if ((m.type === 'join' || m.type === 'update') && m.peer.id === victim.id) {
        const a = m.peer.addrs.find((x) => x.includes('/tcp/') && !x.includes('/ws') && !x.includes('p2p-circuit'))
        if (a) victimAddr = a.includes('/p2p/') ? a : `${a}/p2p/${victim.id}`
      }
    }
    await sleep(50)
  }
  await spy.stop()
  if (!victimAddr) throw new Error('the relay never listed the victim with a TCP address')
  for (let i = 0; i < 200 && !sub.getStatus().peers.some((p) => p.id === victim.id); i++) await sleep(50)

  await honest(sub, victim.id, 2) // warm-up
  const idle = [rssMiB(victim.proc.pid as number), rssMiB(relay.pid)]
  const base = await honest(sub, victim.id, BASE_SECONDS)
  console.log(
    `bench:hostile: ${SECONDS} s per attack; idle RSS victim ${idle[0].toFixed(0)} MiB, relay ${idle[1].toFixed(0)} MiB`,
  )
  console.log(`honest crc32c on the victim without attack: ${base.toFixed(0)} MiB/s\n`)
  const rows: string[][] = []
  for (const name of Object.keys(ATTACKS)) {
    if (values.only && !values.only.split(',').includes(name)) continue
    const sampling = { done: false }
    const peaks = peakRss([victim.proc.pid as number, relay.pid], sampling)
    const attacker = attackProcess(name, relay.tcpAddr, victimAddr)
    const during = await honest(sub, victim.id, SECONDS)
    const messages = await attacker.done
    sampling.done = true
    const [pv, pr] = await peaks
    const alive = victim.proc.exitCode === null && relay.proc.exitCode === null
    rows.push([
      name,
      `${idle[0].toFixed(0)} → ${pv.toFixed(0)} MiB (${(pv / idle[0]).toFixed(2)}×)`,
      `${idle[1].toFixed(0)} → ${pr.toFixed(0)} MiB (${(pr / idle[1]).toFixed(2)}×)`,
      `${during.toFixed(0)} MiB/s (${(during / base).toFixed(2)}× of ${base.toFixed(0)})`,
      `${Math.round(messages / SECONDS).toLocaleString('en-US')}/s`,
      alive ? 'yes' : 'NO',
    ])
    console.log(rows[rows.length - 1].join(' | '))
  }
  const head = [
    'attack',
    'victim RSS idle → peak',
    'relay RSS idle → peak',
    'honest throughput during',
    'attack messages sent',
    'both alive',
  ]
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)))
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`
  console.log(`\n${line(head)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n${rows.map(line).join('\n')}`)
  await sub.stop()
  await stopProcess(victim.proc)
  await relay.stop()
}

/**
 * Runs one attack in its own process (not in the honest submitter's event
 * loop). On this 2-core machine the attacker, the victim, the relay and the
 * submitter share the CPU, so the honest figure includes that contention.
 * Resolves with the messages it sent, once it has stopped by itself after --seconds.
 */
function attackProcess(name: string, relay: string, victimAddr: string): { done: Promise<number> } {
  const self = fileURLToPath(import.meta.url)
  const args = [self, '--attack', name, '--relay', relay, '--victim-addr', victimAddr, '--seconds', String(SECONDS)]
  const proc = killOnExit(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] }))
  let out = ''
  proc.stdout?.on('data', (b: Buffer) => {
    out += b
  })
  const done = new Promise<number>((resolve) => {
    const t = setTimeout(() => proc.kill('SIGKILL'), (SECONDS + 30) * 1000)
    proc.once('exit', () => {
      clearTimeout(t)
      resolve(Number(/sent (\d+)/.exec(out)?.[1] ?? 0))
    })
  })
  return { done }
}

/** Child mode: one attack for --seconds, then report the messages sent and exit. */
async function attackMain(name: string): Promise<void> {
  const attack = ATTACKS[name]
  if (!attack) throw new Error(`no attack ${name}; one of ${Object.keys(ATTACKS).join(', ')}`)
  const stop = { done: false }
  setTimeout(() => {
    stop.done = true
  }, SECONDS * 1000).unref()
  // whatever an attacker still waits on when the time is up is not worth waiting for
  setTimeout(
    () => {
      console.log(`sent ${sent}`)
      process.exit(0)
    },
    (SECONDS + 10) * 1000,
  ).unref()
  await attack({ relay: values.relay as string, victim: '', victimAddr: values['victim-addr'] as string }, stop)
  console.log(`sent ${sent}`)
  process.exit(0)
}

;(values.attack ? attackMain(values.attack) : main()).catch((err) => {
  console.error(err)
  process.exitCode = 1
})
