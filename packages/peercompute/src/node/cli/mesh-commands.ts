import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import type { JobResult } from '../../core/compute/mesh/job.js'
import { POLICIES, type PolicyName } from '../../core/compute/mesh/policies.js'
import type { NodeKernel } from '../../core/kernel/node-kernel.js'
import { isOp, OPS } from '../../core/ops.js'
import { PRICE_MODELS, type PriceModelKind } from '../../core/wire/registry.js'
import { createNode, type NodeCreateOptions } from '../create-node.js'
import { UsageError } from './kernel-command.js'
import { formatSize, parseSize } from './size.js'

/**
 * Settings for a mesh that stays on this machine: WebRTC gathers only loopback
 * candidates and asks no STUN server, loopback addresses may be dialled, and
 * URL sources on loopback and private addresses may be fetched.
 */
export const LOOPBACK: Partial<NodeCreateOptions> = {
  rtcConfiguration: { iceServers: [], bindAddress: '127.0.0.1' },
  dialPolicy: { allowPrivate: true },
  listen: ['/ip4/127.0.0.1/tcp/0'],
  heartbeatMs: 1000,
  urlPolicy: { allowPrivate: true },
}

/** Flags every mesh command takes. */
export const COMMON = {
  relay: { type: 'string', multiple: true },
  loopback: { type: 'boolean' },
  'max-workers': { type: 'string' },
  'no-gpu': { type: 'boolean' },
  trust: { type: 'string', multiple: true },
} as const

/** Node options from the common flags. */
export function nodeOptions(v: {
  relay?: string[]
  loopback?: boolean
  'max-workers'?: string
  'no-gpu'?: boolean
  trust?: string[]
}) {
  if (!v.relay?.length) throw new UsageError('--relay ADDR is required (a relay multiaddr ending in /p2p/<id>)')
  const o: NodeCreateOptions = { relays: v.relay, ...(v.loopback ? LOOPBACK : {}), enableWebGPU: !v['no-gpu'] }
  if (v['max-workers'] !== undefined) o.maxWorkers = positiveInt(v['max-workers'], '--max-workers')
  if (v.trust?.length) o.trust = v.trust // checked by createNode (InvalidOptionError names a bad key)
  return o
}

/** `s` as a whole number ≥ 1, or a UsageError naming `what`. */
export function positiveInt(s: string, what: string): number {
  const n = Number(s)
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${what} must be a whole number ≥ 1, got ${s}`)
  return n
}

/** Resolves when SIGINT or SIGTERM arrives. */
export function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => {
      process.off('SIGINT', on)
      process.off('SIGTERM', on)
      resolve(sig)
    }
    process.on('SIGINT', on)
    process.on('SIGTERM', on)
  })
}

/** `peercompute worker`: a Node peer that offers its cores until Ctrl-C. */
export async function workerCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { ...COMMON, price: { type: 'string' }, storage: { type: 'string' }, room: { type: 'string' } },
  })
  const o = nodeOptions(values)
  if (values.price) {
    const [model, usd] = values.price.split(':')
    if (!(PRICE_MODELS as readonly string[]).includes(model) || !(Number(usd) >= 0))
      throw new UsageError(`--price takes MODEL:USD with MODEL one of ${PRICE_MODELS.join(', ')}`)
    o.price = { model: model as PriceModelKind, usd: Number(usd) }
  }
  if (values.storage === 'local') o.storageMode = 'local'
  if (values.room) o.room = values.room
  const node = await createNode(o)
  await node.start()
  const caps = node.capabilities()
  console.log(
    `worker ${node.peerId} ready: ${caps.cores} cores, ${caps.gpu ? 'WebGPU' : 'no GPU'}, kernels ${caps.kernels.join(' ')}`,
  )
  const sig = await untilSignal()
  console.log(`worker ${node.peerId}: ${sig}, stopping`)
  await node.stop()
  return 0
}

/** Waits until `node` is connected to `n` peers that run tasks, or `ms` pass. */
export async function waitForPeers(node: NodeKernel, n: number, ms: number): Promise<number> {
  const t0 = Date.now()
  for (;;) {
    const have = node.getStatus().peers.filter((p) => p.connected).length
    if (have >= n || Date.now() - t0 > ms) return have
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** `peercompute submit`: runs one job over a file or a URL on the mesh and prints the result and its pieces. */
export async function submitCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON,
      op: { type: 'string' },
      file: { type: 'string' },
      url: { type: 'string' },
      offset: { type: 'string' },
      length: { type: 'string' },
      imm: { type: 'string' },
      redundancy: { type: 'string' },
      policy: { type: 'string' },
      peers: { type: 'string' },
      'no-local': { type: 'boolean' },
      json: { type: 'boolean' },
    },
  })
  const op = values.op ?? ''
  if (!isOp(op)) throw new UsageError(`--op must be one of ${OPS.join(', ')}`)
  if (!values.file === !values.url) throw new UsageError('give one of --file PATH or --url URL')
  if (values.policy && !(values.policy in POLICIES))
    throw new UsageError(`--policy must be one of ${Object.keys(POLICIES).join(', ')}`)
  let data: Uint8Array | { url: string; offset: number; length: number }
  if (values.file) data = new Uint8Array(await readFile(values.file))
  else {
    const url = values.url as string
    const offset = values.offset ? parseSize(values.offset) : 0
    const length = values.length ? parseSize(values.length) : (await contentLength(url)) - offset
    data = { url, offset, length }
  }
  const node = await createNode(nodeOptions(values))
  try {
    await node.start()
    const want = values.peers ? positiveInt(values.peers, '--peers') : 1
    const have = await waitForPeers(node, want, 20_000)
    if (have < want) console.error(`peercompute: only ${have} of ${want} peers after 20 s; running anyway`)
    const job = node.compute.submit({
      op,
      data,
      imm: values.imm ? Number(values.imm) : undefined,
      redundancy: values.redundancy ? positiveInt(values.redundancy, '--redundancy') : undefined,
      policy: values.policy as PolicyName | undefined,
      includeLocal: !values['no-local'],
    })
    const r = await job.result
    console.log(values.json ? JSON.stringify(r, jsonReplacer) : formatJob(r, op, node.peerId))
    return 0
  } finally {
    await node.stop()
  }
}

/** The size of `url`'s resource, from a HEAD request. */
async function contentLength(url: string): Promise<number> {
  const res = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(10_000) })
  const n = Number(res.headers.get('content-length'))
  if (!res.ok || !Number.isSafeInteger(n))
    throw new UsageError(`${url}: no Content-Length (HTTP ${res.status}); give --length`)
  return n
}

/** JSON for bigint and byte results. */
export function jsonReplacer(_k: string, v: unknown): unknown {
  if (typeof v === 'bigint') return `0x${v.toString(16)}`
  if (v instanceof Uint8Array) return `<${v.length} bytes>`
  return v
}

/** A job's result and its per-piece table, for a terminal. */
export function formatJob(r: JobResult, op: string, self: string): string {
  const short = (id: string) => (id === self ? 'local' : `…${id.slice(-8)}`)
  const value =
    typeof r.result === 'bigint'
      ? `0x${r.result.toString(16).padStart(16, '0')}`
      : typeof r.result === 'number'
        ? op === 'crc32c'
          ? `0x${r.result.toString(16).padStart(8, '0')}`
          : String(r.result)
        : `${formatSize(r.result.length)} of output`
  const total = r.pieces.reduce((s, p) => s + p.length, 0)
  const lines = [
    `${op} = ${value}`,
    `${formatSize(total)} in ${r.executionTimeMs.toFixed(0)} ms (${(total / r.executionTimeMs / 1e6).toFixed(2)} GB/s) on ${r.peers.length} peer(s), ${r.pieces.length} pieces, cost $${r.costUsd.toFixed(6)}${r.replaced ? `, ${r.replaced} re-placed` : ''}${r.liars.length ? `, liars: ${r.liars.map(short).join(' ')}` : ''}`,
    '',
    'piece  offset        length     peer         substrate  attempts  exec ms  wall ms  cost $',
  ]
  for (const p of r.pieces) {
    lines.push(
      [
        String(p.index).padStart(5),
        String(p.offset).padStart(12),
        formatSize(p.length).padStart(10),
        short(p.peer).padEnd(12),
        p.substrate.padEnd(10),
        String(p.attempts).padStart(8),
        p.execMs.toFixed(1).padStart(8),
        p.wallMs.toFixed(1).padStart(8),
        p.costUsd.toFixed(6).padStart(9),
      ].join('  '),
    )
  }
  return lines.join('\n')
}
