import { parseArgs } from 'node:util'
import { GATEWAY_KINDS, type GatewayKind, PRICE_MODELS, type PriceModelKind } from 'peercompute'
import { type GatewayOptions, startGateway } from './start-gateway.js'
import { SUBSTRATE_DEFAULTS } from './substrates.js'

/** `peercompute gateway --help`. */
export const GATEWAY_USAGE = `usage: peercompute gateway --relay ADDR --target URL --substrate aws-lambda|cloudflare-worker|http
         [--price-model per-invocation|per-hour|per-gb|free --price USD] [--concurrency N]
         [--payload-bytes N] [--max-duration-s N] [--function-token T] [--loopback]

  runs a relay-attached peer that forwards each task it accepts to the function
  at URL (our Lambda handler, Worker module or any host of the same protocol).
  The token is sent as Authorization: Bearer (default: $PEERCOMPUTE_FUNCTION_TOKEN).
  --loopback: a mesh on this machine (loopback dials, URL sources on private hosts).`

class UsageError extends Error {
  override name = 'UsageError'
}

function num(s: string | undefined, what: string, integer: boolean): number | undefined {
  if (s === undefined) return undefined
  const n = Number(s)
  if (!Number.isFinite(n) || n < 0 || (integer && (!Number.isInteger(n) || n < 1)))
    throw new UsageError(`${what} must be a ${integer ? 'whole number ≥ 1' : 'number ≥ 0'}, got ${s}`)
  return n
}

/** Runs `peercompute gateway` until SIGINT/SIGTERM; returns the exit code. */
export async function runGateway(argv: string[]): Promise<number> {
  let values: Record<string, string | string[] | boolean | undefined>
  try {
    values = parseArgs({
      args: argv,
      options: {
        relay: { type: 'string', multiple: true },
        target: { type: 'string' },
        substrate: { type: 'string' },
        'price-model': { type: 'string' },
        price: { type: 'string' },
        concurrency: { type: 'string' },
        'payload-bytes': { type: 'string' },
        'max-duration-s': { type: 'string' },
        'function-token': { type: 'string' },
        loopback: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values
    if (values.help) {
      console.log(GATEWAY_USAGE)
      return 0
    }
    const relays = (values.relay as string[] | undefined) ?? []
    if (!relays.length) throw new UsageError('--relay ADDR is required')
    if (typeof values.target !== 'string') throw new UsageError('--target URL is required')
    const substrate = values.substrate as GatewayKind
    if (!(GATEWAY_KINDS as readonly string[]).includes(substrate))
      throw new UsageError(`--substrate must be one of ${GATEWAY_KINDS.join(', ')}`)
    const model = (values['price-model'] as string | undefined) ?? SUBSTRATE_DEFAULTS[substrate].price.model
    if (!(PRICE_MODELS as readonly string[]).includes(model))
      throw new UsageError(`--price-model must be one of ${PRICE_MODELS.join(', ')}`)
    const usd = num(values.price as string | undefined, '--price', false) ?? SUBSTRATE_DEFAULTS[substrate].price.usd
    const gw = await startGateway({
      relays,
      target: values.target,
      substrate,
      price: { model: model as PriceModelKind, usd },
      concurrency: num(values.concurrency as string | undefined, '--concurrency', true),
      payloadBytes: num(values['payload-bytes'] as string | undefined, '--payload-bytes', true),
      maxDurationS: num(values['max-duration-s'] as string | undefined, '--max-duration-s', true),
      token: (values['function-token'] as string | undefined) ?? process.env.PEERCOMPUTE_FUNCTION_TOKEN,
      ...(values.loopback
        ? {
            rtcConfiguration: { iceServers: [], bindAddress: '127.0.0.1' } as NonNullable<
              GatewayOptions['rtcConfiguration']
            >,
            dialPolicy: { allowPrivate: true },
            listen: ['/ip4/127.0.0.1/tcp/0'],
            urlPolicy: { allowPrivate: true },
          }
        : {}),
      log: (line) => console.error(line),
    })
    const info = gw.backend.info()
    console.log(
      `gateway ${gw.node.peerId} ready: ${substrate} at ${values.target}, ${info.concurrency} at once, ` +
        `round trip ${info.latencyMs.toFixed(1)} ms, ${model} ${usd} USD`,
    )
    const sig = await new Promise<string>((resolve) => {
      const on = (s: string) => {
        process.off('SIGINT', on)
        process.off('SIGTERM', on)
        resolve(s)
      }
      process.on('SIGINT', on)
      process.on('SIGTERM', on)
    })
    console.log(`gateway ${gw.node.peerId}: ${sig}, stopping`)
    await gw.stop()
    return 0
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      console.error(`peercompute gateway: ${(err as Error).message}\n\n${GATEWAY_USAGE}`)
      return 2
    }
    throw err
  }
}
