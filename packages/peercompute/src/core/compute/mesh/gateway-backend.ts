import type { GatewayInfo, Load } from '../../wire/registry.js'
import type { TaskRunner } from './executor/run-task.js'

/**
 * What a gateway peer runs the tasks it accepts on, instead of its own pool:
 * a runner that forwards each task to a function (AWS Lambda, a Cloudflare
 * Worker, any HTTP function), and what the peer advertises of it. The
 * executor's admission limits stay in front of it.
 */
export interface GatewayBackend extends TaskRunner {
  readonly forwards: true
  /** The function's host, measured round trip and limits, as advertised in the capabilities. */
  info(): GatewayInfo
  /** The kernels the function runs. */
  kernels(): string[]
  /** Tasks forwarded now and waiting for a place (a gateway cooling down after 429/5xx reports itself full). */
  load(): Load
}

/** True if `v` has what a GatewayBackend needs (checked before a node starts). */
export function isGatewayBackend(v: unknown): v is GatewayBackend {
  const g = v as Partial<GatewayBackend> | null
  return (
    typeof g === 'object' &&
    g !== null &&
    g.forwards === true &&
    typeof g.run === 'function' &&
    typeof g.hasKernel === 'function' &&
    typeof g.info === 'function' &&
    typeof g.kernels === 'function' &&
    typeof g.load === 'function'
  )
}
