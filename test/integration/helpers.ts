import { type ChildProcess, spawn } from 'node:child_process'
import { networkInterfaces } from 'node:os'
import { fileURLToPath } from 'node:url'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { type Relay, startRelay } from '@peercompute/relay'
import {
  createNetworkManager,
  createNode,
  type NetworkManager,
  type NodeCreateOptions,
  type NodeKernel,
  type NodeNetworkInit,
} from 'peercompute'

/** WebRTC may only run where the sole interface is loopback (see ENVIRONMENT.md). */
export const loopbackOnly = Object.keys(networkInterfaces()).every((n) => n === 'lo')
if (!loopbackOnly && process.env.PEERCOMPUTE_REQUIRE_NETNS === '1') {
  throw new Error(
    'PEERCOMPUTE_REQUIRE_NETNS=1 but this process sees interfaces other than lo: run it through scripts/netns-run.js',
  )
}

/** Settings every test peer uses: loopback WebRTC, no STUN, loopback (private) dials allowed, quick timers. */
export const TEST_PEER: Omit<NodeNetworkInit, 'relays' | 'capabilities'> = {
  rtcConfiguration: { iceServers: [], bindAddress: '127.0.0.1' },
  dialPolicy: { allowPrivate: true },
  heartbeatMs: 1000,
  relayBackoff: { initialMs: 200, maxMs: 2000 },
  upgradeBackoff: { initialMs: 500, maxMs: 5000 },
}

export const NODE_CAPS = () => ({
  cores: 2,
  memoryMb: 1024,
  gpu: false,
  kernels: ['counteq', 'crc32c', 'fnv64', 'xor', 'add'],
  substrate: 'node' as const,
  price: { model: 'free' as const, usd: 0 },
})

/** A relay on 127.0.0.1 with any free ports; `restart()` brings it back on the same ports and identity. */
export async function testRelay(limits: { expiryMs?: number } = {}) {
  const key = await generateKeyPair('Ed25519')
  let relay: Relay = await startRelay({ privateKey: key, limits })
  const ports = relay.multiaddrs.map((m) => Number(m.toString().split('/')[4]))
  const wsAddr = () => relay.multiaddrs.find((m) => m.toString().includes('/ws'))?.toString() as string
  return {
    get relay() {
      return relay
    },
    wsAddr: wsAddr(),
    tcpAddr: relay.multiaddrs.find((m) => !m.toString().includes('/ws'))?.toString() as string,
    async restart(downMs = 300) {
      await relay.stop()
      await new Promise((r) => setTimeout(r, downMs))
      relay = await startRelay({ privateKey: key, limits, tcpPort: ports[0], wsPort: ports[1] })
    },
    stop: () => relay.stop(),
  }
}

/** Starts `n` peers on a relay. */
export async function startPeers(
  n: number,
  relayAddr: string,
  extra: Partial<NodeNetworkInit> = {},
): Promise<NetworkManager[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const nm = await createNetworkManager({ ...TEST_PEER, relays: [relayAddr], capabilities: NODE_CAPS, ...extra })
      await nm.start()
      return nm
    }),
  )
}

/** Polls `cond` until true or `ms` pass; then fails with `what`. */
export async function waitFor(what: string, cond: () => boolean, ms = 20_000): Promise<number> {
  const t0 = Date.now()
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for: ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  return Date.now() - t0
}

/** Peers `nm` has a direct (not relayed) connection to. */
export function directPeers(nm: NetworkManager): Set<string> {
  return new Set(
    nm
      .getStatus()
      .connections.filter((c) => !c.relay && c.transport !== 'relayed')
      .map((c) => c.peer),
  )
}

/** Starts `n` nodes (network, state, compute) on a relay; WebGPU off unless asked. */
export async function startNodes(
  n: number,
  relayAddr: string,
  extra: Partial<NodeCreateOptions> = {},
): Promise<NodeKernel[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const node = await createNode({
        ...TEST_PEER,
        urlPolicy: { allowPrivate: true },
        enableWebGPU: false,
        maxWorkers: 1,
        relays: [relayAddr],
        ...extra,
      })
      await node.start()
      return node
    }),
  )
}

/** The built `peercompute` CLI. */
export const CLI = fileURLToPath(new URL('../../packages/peercompute/dist/node/cli/main.js', import.meta.url))

/**
 * Starts `peercompute worker` on `relay` in its own process (loopback, one
 * worker thread, no GPU; `extraArgs` appended, e.g. `--trust KEY`) and resolves
 * with it and its peer id once it is ready.
 * The caller stops it by its pid.
 */
export async function startWorkerProcess(
  relay: string,
  extraArgs: string[] = [],
): Promise<{ proc: ChildProcess; id: string }> {
  const proc = spawn(
    process.execPath,
    [CLI, 'worker', '--relay', relay, '--loopback', '--max-workers', '1', '--no-gpu', ...extraArgs],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  const id = await new Promise<string>((resolve, reject) => {
    let out = ''
    proc.stdout?.on('data', (b: Buffer) => {
      out += b
      const m = /worker (\S+) ready/.exec(out)
      if (m) resolve(m[1])
    })
    proc.once('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready`)))
  })
  return { proc, id }
}
