import { createNode, type NodeCreateOptions, type NodeKernel, type PriceModelKind } from 'peercompute'
import { FunctionBackend, type FunctionBackendInit } from './function-backend.js'
import { SUBSTRATE_DEFAULTS } from './substrates.js'

/** The options a gateway passes on to its FunctionBackend as they are (the rest go to its node). */
const FUNCTION_OPTIONS = [
  'target',
  'concurrency',
  'payloadBytes',
  'maxDurationS',
  'memoryMb',
  'token',
  'backoff',
  'fetch',
] as const satisfies readonly (keyof FunctionBackendInit)[]
type FunctionOption = (typeof FUNCTION_OPTIONS)[number]

/** Options of a gateway peer: a Node peer's (relays, network, limits) plus the function it fronts. */
export interface GatewayOptions
  extends Omit<NodeCreateOptions, 'gateway' | 'price' | 'maxWorkers' | 'enableWebGPU'>,
    Pick<FunctionBackendInit, FunctionOption> {
  /** The function's URL. */
  target: string
  /** Which host runs the function (what the pieces it runs report as their substrate). */
  substrate: FunctionBackendInit['kind']
  /** Price of its work for submitters (default per substrate: SUBSTRATE_DEFAULTS). */
  price?: { model: PriceModelKind; usd: number }
  /** How often the function's round trip is measured again, ms (default 60,000). */
  probeIntervalMs?: number
}

/** A running gateway peer. */
export interface Gateway {
  readonly node: NodeKernel
  readonly backend: FunctionBackend
  /** Stops measuring, aborts forwarded requests and stops the node. */
  stop(): Promise<void>
}

/**
 * Starts a gateway peer: checks that the function answers a known task
 * correctly (measuring its round trip), then joins the mesh through the relays
 * advertising substrate `gateway` with the function's kind, latency, limits and
 * price. Tasks it accepts pass the executor's admission limits, then go to the
 * function; rejects (and starts nothing) if the function does not answer right.
 */
export async function startGateway(o: GatewayOptions, signal?: AbortSignal): Promise<Gateway> {
  const { substrate, price, probeIntervalMs, ...rest } = o
  const [fn, node] = split(rest, FUNCTION_OPTIONS)
  const backend = new FunctionBackend({ ...fn, kind: substrate, urlPolicy: o.urlPolicy, log: o.log })
  await backend.probe(signal)
  const kernel = await createNode({
    ...node,
    gateway: backend,
    price: price ?? SUBSTRATE_DEFAULTS[substrate].price,
    // the pool is not what it offers: one worker, started only if this node ever submits
    maxWorkers: 1,
    enableWebGPU: false,
  })
  try {
    await kernel.start()
  } catch (err) {
    await kernel.stop().catch(() => {})
    throw err
  }
  const timer = setInterval(() => {
    backend
      .probe(AbortSignal.timeout(30_000), 1)
      .catch((err) => o.log?.(`gateway probe failed: ${(err as Error).message}`))
  }, probeIntervalMs ?? 60_000)
  timer.unref?.()
  let stopped = false
  return {
    node: kernel,
    backend,
    async stop() {
      if (stopped) return
      stopped = true
      clearInterval(timer)
      backend.stop()
      await kernel.stop()
    },
  }
}

/** Splits `o` into the keys `keys` names (those it has) and the rest. */
function split<T extends object, K extends keyof T>(o: T, keys: readonly K[]): [Pick<T, K>, Omit<T, K>] {
  const picked: Partial<Pick<T, K>> = {}
  const rest: Partial<T> = { ...o }
  for (const k of keys) {
    if (k in o) picked[k] = o[k]
    delete rest[k]
  }
  return [picked as Pick<T, K>, rest as Omit<T, K>]
}
