// npm run bench:map — map jobs, measured. Prints, never asserts.
// A trivial kernel (x + 1) over 1,000,000 JSON numbers between two Node peers,
// directly and through the relay: items/s, next to
//  - the same kernel over the same items on a node's own pool (no network), and
//  - a bare libp2p echo of the same batches (the same bytes, as many in flight
//    as the map job keeps on one peer) over the same connection, in this run,
//  - and the floor of any map over that connection (bench/lib/map-floor.ts):
//    the batches encoded, framed, run in a worker thread and their results
//    decoded in order, with nothing else (no header, check, budget or Job).
// The kernel is signed and travels (`map({ code })`) to an executor that trusts
// its publisher; the local pool runs the same source registered.
// Runs inside a loopback-only network namespace (scripts/netns-run.js).
import { writeFileSync } from 'node:fs'
import { availableParallelism, loadavg } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { Stream } from '@libp2p/interface'
import {
  createNode,
  encodeValues,
  generatePublisherKey,
  importPublisherKey,
  MAP_PIPELINE,
  type MapJob,
  type MapSpec,
  type NodeCreateOptions,
  type NodeKernel,
  peerSlots,
  signBundle,
} from 'peercompute'
import { benchDir, giveUpAfter, type RelayProcess, runWithRelay } from './lib/bench-main.ts'
import { checkIncremented, floorClient, serveFloor } from './lib/map-floor.ts'
import { median, pooled } from './lib/measure.ts'
import { LOOPBACK_NODE as LOOP } from './lib/peers.ts'
import { until } from './lib/wait.ts'

giveUpAfter('bench:map', 10)

const ITEMS = Number(process.env.MAP_ITEMS ?? 1_000_000)
/** MAP_BATCH=N fixes the items per batch (default: sized from the round trip, as map jobs do). */
const BATCH = process.env.MAP_BATCH ? Number(process.env.MAP_BATCH) : undefined
/** Rounds of each measurement (MAP_ROUNDS); the median is reported. */
const ROUNDS = Number(process.env.MAP_ROUNDS ?? 5)
const ECHO = '/peercompute/bench-map-echo/1.0.0'
const SOURCE = 'export function inc(x) {\n  return x + 1\n}\n'
const dir = benchDir('map')
/** What each round measures, in this order. */
const PHASES = ['map', 'echo', 'floor'] as const
type Phase = (typeof PHASES)[number]

async function kernel(): Promise<{ bundle: Uint8Array; publicKey: string; moduleUrl: string }> {
  const pair = await generatePublisherKey()
  const key = await importPublisherKey(pair.secretKeyPem)
  const bytes = new TextEncoder().encode(SOURCE)
  const bundle = await signBundle(bytes, { name: 'inc', version: '1.0.0', kind: 'kernel', entry: 'inc' }, key)
  // the registered twin: the same function as a module's default export
  const file = join(dir, 'inc.mjs')
  writeFileSync(file, 'export default (x) => x + 1\n')
  return { bundle, publicKey: pair.publicKey, moduleUrl: pathToFileURL(file).href }
}

/** One map job over `inputs`: items/s and the job. */
async function runMap(node: NodeKernel, spec: MapSpec, inputs: number[]): Promise<{ rate: number; job: MapJob }> {
  const t0 = performance.now()
  const job = node.compute.map(spec)
  const out = await job.result
  const rate = inputs.length / ((performance.now() - t0) / 1000)
  checkIncremented(out, inputs, 'the map job')
  return { rate, job }
}

/** An echo over `stream`: each call sends the batches, `inflight` at a time, and resolves with items/s once all came back. */
function echoer(stream: Stream): (batches: Uint8Array[], items: number, inflight: number) => Promise<number> {
  const waiting: Array<{ left: number; done: () => void }> = []
  stream.addEventListener('message', (e) => {
    let n = e.data.byteLength
    while (n > 0 && waiting.length > 0) {
      const w = waiting[0]
      const take = Math.min(n, w.left)
      w.left -= take
      n -= take
      if (w.left === 0) {
        waiting.shift()
        w.done()
      }
    }
  })
  const one = (b: Uint8Array) =>
    new Promise<void>((done) => {
      waiting.push({ left: b.length, done })
      if (!stream.send(b)) void stream.onDrain()
    })
  return async (batches, items, inflight) => {
    const t0 = performance.now()
    await pooled(batches.length, inflight, (i) => one(batches[i]))
    return items / ((performance.now() - t0) / 1000)
  }
}

/** CPU time of this thread (user + system), ms. */
const threadCpuMs = (): number => {
  const u = process.threadCpuUsage()
  return (u.user + u.system) / 1000
}

async function pair(
  relay: string,
  label: string,
  bundle: Uint8Array,
  extra: Partial<NodeCreateOptions>,
  connected: (a: NodeKernel, b: NodeKernel) => boolean,
  inputs: number[],
): Promise<{
  label: string
  map: number
  echo: number
  floor: number
  ratios: number[]
  floorRatios: number[]
  batches: number
  bytesPerItem: number
  inflight: number
  transport: string
  nsPerItem: { map: number; echo: number; floor: number }
}> {
  const a = await createNode({ ...LOOP, relays: [relay], ...extra })
  const b = await createNode({ ...LOOP, relays: [relay], ...extra })
  try {
    await Promise.all([a.start(), b.start()])
    await until(`${label}: the peers connected`, () => connected(a, b))
    await until(`${label}: the executor advertises the kernel`, () =>
      a.getStatus().peers.some((p) => p.id === b.peerId && p.caps.kernels.some((x) => x.startsWith('signed:'))),
    )
    const spec = (): MapSpec => ({
      code: bundle,
      inputs,
      peers: [b.peerId],
      includeLocal: false,
      ...(BATCH ? { batchItems: BATCH } : {}),
    })
    // warm-up: fetch, verify, JIT; the first full job's batches are the echo's
    await runMap(a, { ...spec(), inputs: inputs.slice(0, 5000) }, inputs.slice(0, 5000))
    const { job } = await runMap(a, spec(), inputs)
    const transport =
      a
        .getStatus()
        .connections.filter((c) => c.peer === b.peerId)
        .map((c) => c.transport)
        .join('+') || 'none'
    // the echo: the job's own batches, as many in flight as it keeps on one peer (its slots × MAP_PIPELINE)
    await b.network.handle(ECHO, (s) => {
      s.addEventListener('message', (e) => {
        if (!s.send(e.data.subarray())) void s.onDrain().catch(() => {})
      })
    })
    const order = [...job.batches].sort((x, y) => x.first - y.first)
    const batches = order.map((bt) => encodeValues(inputs.slice(bt.first, bt.first + bt.count)))
    const cores = a.getStatus().peers.find((p) => p.id === b.peerId)?.caps.cores ?? availableParallelism()
    const inflight = Number(process.env.ECHO_INFLIGHT ?? peerSlots(cores) * MAP_PIPELINE)
    const stream = await a.network.dialProtocol(b.peerId, ECHO)
    const echo = echoer(stream)
    await echo(batches, ITEMS, inflight)
    const stopFloor = await serveFloor(b)
    const floor = await floorClient(a, b.peerId)
    await floor.run(inputs, order, inflight)
    // map, echo and floor take turns, so what the machine does meanwhile falls on all alike
    const phases: Record<Phase, () => Promise<number>> = {
      map: async () => (await runMap(a, spec(), inputs)).rate,
      echo: () => echo(batches, ITEMS, inflight),
      floor: () => floor.run(inputs, order, inflight),
    }
    const rates: Record<Phase, number[]> = { map: [], echo: [], floor: [] }
    // both peers share this thread: its CPU time a phase is what the phase costs, where rates only show the sum
    const cpu: Record<Phase, number> = { map: 0, echo: 0, floor: 0 }
    for (let r = 0; r < ROUNDS; r++)
      for (const p of PHASES) {
        const t = threadCpuMs()
        rates[p].push(await phases[p]())
        cpu[p] += threadCpuMs() - t
      }
    await stream.close().catch(() => stream.abort(new Error('close failed')))
    await floor.close()
    await stopFloor()
    const bytes = batches.reduce((n, x) => n + x.length, 0)
    return {
      label,
      map: median(rates.map),
      echo: median(rates.echo),
      floor: median(rates.floor),
      ratios: rates.map.map((m, i) => m / rates.echo[i]),
      floorRatios: rates.floor.map((m, i) => m / rates.echo[i]),
      batches: batches.length,
      bytesPerItem: bytes / ITEMS,
      inflight,
      transport,
      // main-thread ns an item, both peers together
      nsPerItem: {
        map: (cpu.map * 1e6) / (ROUNDS * ITEMS),
        echo: (cpu.echo * 1e6) / (ROUNDS * ITEMS),
        floor: (cpu.floor * 1e6) / (ROUNDS * ITEMS),
      },
    }
  } finally {
    await Promise.all([a.stop(), b.stop()])
  }
}

async function main(relay: RelayProcess): Promise<void> {
  const { bundle, publicKey, moduleUrl } = await kernel()
  const inputs = Array.from({ length: ITEMS }, (_, i) => i)
  // the local pool: one node, no peers; the same source registered (a node's own pool runs no traveling code)
  const solo = await createNode({ ...LOOP, relays: [] })
  let local = 0
  try {
    await solo.start()
    solo.registerKernel('inc', moduleUrl)
    await runMap(solo, { kernel: 'inc', inputs: inputs.slice(0, 5000) }, inputs.slice(0, 5000))
    const rates: number[] = []
    for (let r = 0; r < ROUNDS; r++) rates.push((await runMap(solo, { kernel: 'inc', inputs }, inputs)).rate)
    local = median(rates)
  } catch (err) {
    console.error(`local pool: ${(err as Error).message}`)
  } finally {
    await solo.stop()
  }
  const direct = await pair(
    relay.tcpAddr,
    'direct',
    bundle,
    { listen: ['/ip4/127.0.0.1/tcp/0'], trust: [publicKey] },
    (a, b) => a.getStatus().connections.some((c) => c.peer === b.peerId && c.transport === 'tcp'),
    inputs,
  )
  const relayed = await pair(
    relay.tcpAddr,
    'via the relay',
    bundle,
    { maxPeerConnections: 0, listen: [], trust: [publicKey] },
    (a, b) => a.getStatus().peers.some((p) => p.id === b.peerId),
    inputs,
  )
  const f = (x: number) => Math.round(x).toLocaleString('en-US').padStart(9)
  console.log(
    `\nmap x+1 over ${ITEMS.toLocaleString('en-US')} JSON numbers, signed kernel (map({ code })); median of ${ROUNDS} rounds, map, echo and floor taking turns`,
  )
  console.log(`load average at start ${load.toFixed(1)} on ${availableParallelism()} cores`)
  const span = (xs: number[]) => `${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)}`
  console.log(
    '| run | connection | map, items/s | bare echo of the same batches, items/s | floor, items/s | map/echo (median; per round) | floor/echo | main-thread ns/item, map / echo / floor |',
  )
  console.log('|---|---|---:|---:|---:|---:|---:|---:|')
  for (const r of [direct, relayed])
    console.log(
      `| ${r.label} | ${r.transport} | ${f(r.map)} | ${f(r.echo)} (${r.batches} batches, ${r.bytesPerItem.toFixed(1)} B/item, ${r.inflight} in flight) | ${f(r.floor)} | ${(r.map / r.echo).toFixed(2)}× (${span(r.ratios)}) | ${(r.floor / r.echo).toFixed(2)}× (${span(r.floorRatios)}) | ${r.nsPerItem.map.toFixed(0)} / ${r.nsPerItem.echo.toFixed(0)} / ${r.nsPerItem.floor.toFixed(0)} |`,
    )
  console.log(`| local pool (registered) | none | ${f(local)} | | | | | |`)
  console.log(
    'floor: the same batches encoded, framed, run in a worker thread and decoded in order, nothing else (bench/lib/map-floor.ts)',
  )
  console.log(`targets: ≥ 100,000 items/s directly; ≥ 0.8× the echo of the same batches`)
}

// the load average before the relay starts
const load = loadavg()[0]
runWithRelay(dir, main)
