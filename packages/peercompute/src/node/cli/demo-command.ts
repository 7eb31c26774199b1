import { type ChildProcess, spawn } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { isOp, OPS, runOp } from '../../core/ops.js'
import { createNode } from '../create-node.js'
import { UsageError } from './kernel-command.js'
import { formatJob, LOOPBACK, waitForPeers } from './mesh-commands.js'
import { formatSize, parseSize } from './size.js'

interface RelayLike {
  peerId: string
  multiaddrs: Array<{ toString(): string }>
  httpUrl: string
  /** Bearer token of /api/peers and /api/mesh. */
  token: string
  stop(): Promise<void>
}

/**
 * `peercompute demo`: the whole mesh on this machine, on embedded defaults. A
 * relay in this process, worker peers as child processes, a generated file
 * served over loopback HTTP, and one job across them all, checked against the
 * single-process kernel. The relay's HTTP API stays up until Ctrl-C (`--once`: exit).
 */
export async function demoCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      workers: { type: 'string' },
      size: { type: 'string' },
      op: { type: 'string' },
      imm: { type: 'string' },
      once: { type: 'boolean' },
      'http-port': { type: 'string' },
    },
  })
  const workers = Number(values.workers ?? 3)
  if (!Number.isInteger(workers) || workers < 0 || workers > 16) throw new UsageError('--workers must be 0..16')
  const size = parseSize(values.size ?? '256MiB')
  const op = values.op ?? 'crc32c'
  if (!isOp(op)) throw new UsageError(`--op must be one of ${OPS.join(', ')}`)
  const imm = Number(values.imm ?? 7)
  const cleanup: Array<() => Promise<unknown> | unknown> = []
  const stopAll = async () => {
    for (const c of cleanup.splice(0).reverse()) await Promise.resolve(c()).catch(() => {})
  }
  try {
    // 1. the relay, in this process
    const name = '@peercompute/relay'
    const { startRelay } = (await import(name)) as { startRelay(init: unknown): Promise<RelayLike> }
    const relay = await startRelay({
      privateKey: await generateKeyPair('Ed25519'),
      host: '127.0.0.1',
      httpPort: values['http-port'] ? Number(values['http-port']) : 0,
    })
    cleanup.push(() => relay.stop())
    const relayAddr = relay.multiaddrs.find((m) => !m.toString().includes('/ws'))?.toString() as string
    console.log(`relay ${relay.peerId} on ${relayAddr}; HTTP API ${relay.httpUrl}`)

    // 2. the data: generated in wasm memory, served over loopback HTTP with Range support
    const data = generate(size)
    const server = createServer((req, res) => {
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '')
      if (!m) {
        res.writeHead(200, { 'content-length': data.length, 'accept-ranges': 'bytes' })
        res.end(req.method === 'HEAD' ? undefined : data)
        return
      }
      const a = Number(m[1])
      const b = Math.min(Number(m[2]), data.length - 1)
      if (a > b) {
        res.writeHead(416, { 'content-range': `bytes */${data.length}` }).end()
        return
      }
      res.writeHead(206, { 'content-range': `bytes ${a}-${b}/${data.length}`, 'content-length': b - a + 1 })
      res.end(data.subarray(a, b + 1))
    })
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    cleanup.push(() => new Promise((r) => server.close(r)))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/demo.bin`
    console.log(`serving ${formatSize(size)} at ${url}`)

    // 3. worker peers, each its own process
    const main = fileURLToPath(new URL('./main.js', import.meta.url))
    const children: ChildProcess[] = []
    for (let i = 0; i < workers; i++) {
      const child = spawn(
        process.execPath,
        [main, 'worker', '--relay', relayAddr, '--loopback', '--max-workers', '1', '--no-gpu'],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      )
      children.push(child)
      cleanup.push(() => stopChild(child))
      child.stdout?.on('data', (b: Buffer) => process.stdout.write(`  [worker ${i + 1}] ${b}`))
    }

    // 4. this process submits, and works too
    const node = await createNode({ ...LOOPBACK, relays: [relayAddr], enableWebGPU: false, maxWorkers: 1 })
    cleanup.push(() => node.stop())
    await node.start()
    const have = await waitForPeers(node, workers, 30_000)
    console.log(`submitter ${node.peerId}: ${have} worker peer(s) connected`)
    const job = node.compute.submit({ op, data: { url, length: size }, imm })
    let last = 0
    job.addEventListener('progress', (e) => {
      const pct = Math.floor((100 * e.detail.bytesDone) / Math.max(1, e.detail.bytesTotal))
      if (pct >= last + 25) {
        last = pct
        console.log(`  ${pct}% (${e.detail.piecesDone} pieces)`)
      }
    })
    const r = await job.result
    console.log(`\n${formatJob(r, op, node.peerId)}\n`)
    const want = runOp(op, data, { imm })
    const same = want instanceof Uint8Array ? Buffer.compare(want, r.result as Uint8Array) === 0 : want === r.result
    console.log(same ? 'matches the single-process kernel' : 'MISMATCH with the single-process kernel')
    if (!same) return 1
    if (!values.once) {
      console.log(
        `\nrelay HTTP API: curl -H 'Authorization: Bearer ${relay.token}' ${relay.httpUrl}/api/peers\n` +
          `  ${relay.httpUrl}/metrics  (Ctrl-C to stop)`,
      )
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve())
        process.once('SIGTERM', () => resolve())
      })
    }
    return 0
  } finally {
    await stopAll()
  }
}

/** `n` bytes of a fixed xorshift pattern. */
function generate(n: number): Uint8Array {
  const buf = new Uint8Array(n)
  const words = new Uint32Array(buf.buffer, 0, Math.floor(n / 4))
  let x = 0x9e3779b9
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    words[i] = x >>> 0
  }
  return buf
}

/** SIGTERM, then SIGKILL after 3 s; resolves when the child is gone. */
function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 3000)
    child.once('exit', () => {
      clearTimeout(t)
      resolve()
    })
    child.kill('SIGTERM')
  })
}
