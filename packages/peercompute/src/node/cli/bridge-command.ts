import { randomBytes } from 'node:crypto'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { RedisBridge } from '../bridge/bridge.js'
import { createNode } from '../create-node.js'
import { UsageError } from './kernel-command.js'
import { COMMON, nodeOptions, positiveInt, untilSignal, waitForPeers } from './mesh-commands.js'
import { parseSize } from './size.js'

/** The usage lines of `peercompute bridge`. */
export const BRIDGE_USAGE = `  bridge --redis URL --relay ADDR [--id ID | --data-dir DIR] [--concurrency N] [--peers N]
         [--result-ttl S] [--metrics-cap N] [--max-length SIZE] [--max-output SIZE]
         [--max-job-bytes SIZE] [--job-timeout S] [--lease S] [--allow-origin URL]... [--no-local] [--loopback]
      take the original system's jobs from Redis (LPUSH packetfs:jobs:queue '{"job_id",
      "program": {"op", "data_url", "offset", "length", "imm"}, ...}'), run them on the mesh,
      write packetfs:results:<job_id> (TTL --result-ttl, default 86400 s) and per-piece
      records to packetfs:metrics (capped at --metrics-cap, default 10000); at most
      --concurrency jobs at once (default 4). --id names this bridge's processing list
      (default: an id kept in DIR/bridge-id, DIR default .peercompute); a bridge restarted
      with the same id re-queues the jobs it had in flight; a bridge holds a lease on its id
      (--lease, default 15 s) and the jobs of a bridge whose lease lapsed go back to the queue`

/** The bridge's id: `--id`, or one kept in `dir/bridge-id` (made on first use). */
async function bridgeId(id: string | undefined, dir: string): Promise<string> {
  if (id !== undefined) return id
  const file = join(dir, 'bridge-id')
  try {
    return (await readFile(file, 'utf8')).trim()
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') throw err
  }
  const made = `bridge-${randomBytes(6).toString('hex')}`
  await mkdir(dir, { recursive: true })
  await writeFile(file, `${made}\n`, { flag: 'wx' })
  return made
}

/** `s` as a size ≥ 1 byte, or a UsageError naming `what`. */
function size(s: string | undefined, what: string): number | undefined {
  if (s === undefined) return undefined
  try {
    const n = parseSize(s)
    if (n >= 1) return n
  } catch {}
  throw new UsageError(`${what} must be a size of at least 1 byte (4096, 64KiB, 1GiB), got ${s}`)
}

/** `peercompute bridge`: the Redis queue bridge, until Ctrl-C. */
export async function bridgeCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON,
      redis: { type: 'string' },
      id: { type: 'string' },
      'data-dir': { type: 'string' },
      concurrency: { type: 'string' },
      peers: { type: 'string' },
      'result-ttl': { type: 'string' },
      'metrics-cap': { type: 'string' },
      'max-length': { type: 'string' },
      'max-output': { type: 'string' },
      'max-job-bytes': { type: 'string' },
      'job-timeout': { type: 'string' },
      lease: { type: 'string' },
      'allow-origin': { type: 'string', multiple: true },
      'no-local': { type: 'boolean' },
    },
  })
  if (!values.redis || !/^rediss?:\/\//.test(values.redis))
    throw new UsageError('--redis URL is required (redis://host:port or rediss://...)')
  const o = nodeOptions(values)
  if (values['allow-origin']?.length) o.urlPolicy = { ...o.urlPolicy, allowOrigins: values['allow-origin'] }
  const int = (k: keyof typeof values) => {
    const s = values[k]
    return typeof s === 'string' ? positiveInt(s, `--${k}`) : undefined
  }
  const id = await bridgeId(values.id, values['data-dir'] ?? '.peercompute')
  const jobTimeout = int('job-timeout')
  const lease = int('lease')
  const settings = {
    redisUrl: values.redis,
    bridgeId: id,
    urlPolicy: o.urlPolicy,
    concurrency: int('concurrency'),
    resultTtlS: int('result-ttl'),
    metricsCap: int('metrics-cap'),
    maxLength: size(values['max-length'], '--max-length'),
    maxOutputBytes: size(values['max-output'], '--max-output'),
    maxItemBytes: size(values['max-job-bytes'], '--max-job-bytes'),
    jobTimeoutMs: jobTimeout === undefined ? undefined : jobTimeout * 1000,
    leaseMs: lease === undefined ? undefined : lease * 1000,
    includeLocal: !values['no-local'],
    log: (line: string) => console.log(`bridge ${id}: ${line}`),
  }
  const node = await createNode(o)
  let bridge: RedisBridge | undefined
  try {
    await node.start()
    bridge = new RedisBridge({ node, ...settings })
    if (values.peers) {
      const want = positiveInt(values.peers, '--peers')
      const have = await waitForPeers(node, want, 30_000)
      if (have < want) console.error(`peercompute: only ${have} of ${want} peers after 30 s; taking jobs anyway`)
    }
    await bridge.start()
    console.log(
      `bridge ${id} ready: node ${node.peerId}, queue packetfs:jobs:queue, ${bridge.stats().recovered} re-queued`,
    )
    const sig = await untilSignal()
    console.log(`bridge ${id}: ${sig}, stopping`)
    return 0
  } finally {
    await bridge?.stop(5000)
    await node.stop()
  }
}
