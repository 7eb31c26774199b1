import type { GatewayKind, PriceModelKind } from 'peercompute'

/** A function host's limits and a gateway's defaults for it. */
export interface SubstrateDefaults {
  /** Largest inline input or bytes output of one task, raw bytes (the base64 envelope fits the host's payload limit). */
  payloadBytes: number
  /** The host's time limit per invocation, s. */
  maxDurationS: number
  /** Memory of one invocation, MB. */
  memoryMb: number
  /** Tasks forwarded at once. */
  concurrency: number
  /** Price, when the operator gives none (list prices; set your own with --price-model/--price). */
  price: { model: PriceModelKind; usd: number }
}

/**
 * Per host: AWS Lambda (6 MB synchronous payloads, base64 → ~4.4 MB raw; 15
 * minutes), Cloudflare Workers (128 MB memory per isolate; CPU time limit of
 * 30 s on paid plans), and a plain HTTP function (our own handler on any host).
 */
export const SUBSTRATE_DEFAULTS: Record<GatewayKind, SubstrateDefaults> = {
  'aws-lambda': {
    payloadBytes: 4_400_000,
    maxDurationS: 900,
    memoryMb: 1024,
    concurrency: 10,
    price: { model: 'per-invocation', usd: 0.0000002 },
  },
  'cloudflare-worker': {
    payloadBytes: 12 * 2 ** 20,
    maxDurationS: 30,
    memoryMb: 128,
    concurrency: 16,
    price: { model: 'per-invocation', usd: 0.0000003 },
  },
  http: {
    payloadBytes: 12 * 2 ** 20,
    maxDurationS: 60,
    memoryMb: 1024,
    concurrency: 8,
    price: { model: 'free', usd: 0 },
  },
}
