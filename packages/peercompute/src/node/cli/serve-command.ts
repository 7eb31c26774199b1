import { parseArgs } from 'node:util'
import { startServe } from '../serve/start-serve.js'
import { UsageError } from './kernel-command.js'
import { positiveInt } from './mesh-commands.js'

/** `peercompute serve --help`. */
export const SERVE_USAGE = `usage: peercompute serve [options]

One process: a relay, a node that submits jobs to the mesh through it, the HTTP
job API and the dashboard (when @peercompute/dashboard is built).

  --host ADDR            address every port listens on         default 127.0.0.1
  --port N               the job API's HTTP port (0: any)       default 8080
  --relay-ws-port N      the relay's WebSocket port (browsers)  default 9090
  --relay-tcp-port N     the relay's TCP port (Node peers)      default 9092
  --relay-http-port N    the relay's own HTTP API               default 9091
  --data-dir DIR         the relay's identity and token         default .peercompute
  --token-file PATH      the bearer token of POST/DELETE        default DIR/relay.token (made 0600)
  --max-workers N        worker threads of the submitting node  default 1
  --max-running N        jobs run at once (more wait queued)    default 4
  --max-queued N         jobs waiting; past that POST gives 429 default 64
  --no-local             run no pieces in this process
  --loopback             a mesh on one machine (loopback WebRTC, private URLs allowed)

endpoints: POST/GET /api/jobs, GET/DELETE /api/jobs/:id, GET /api/jobs/:id/events,
GET /api/events, GET /api/openapi.json, /metrics, and the relay's /healthz,
/api/peers, /api/capacity, /api/mesh, /api/dashboard/stream`

/** A port number from a flag. */
function port(s: string | undefined, def: number, what: string): number {
  if (s === undefined) return def
  const n = Number(s)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`${what} must be a port 0..65535, got ${s}`)
  return n
}

/** `peercompute serve`: runs until SIGINT or SIGTERM. */
export async function serveCommand(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    console.log(SERVE_USAGE)
    return 0
  }
  const { values } = parseArgs({
    args,
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'relay-ws-port': { type: 'string' },
      'relay-tcp-port': { type: 'string' },
      'relay-http-port': { type: 'string' },
      'data-dir': { type: 'string' },
      'token-file': { type: 'string' },
      'max-workers': { type: 'string' },
      'max-running': { type: 'string' },
      'max-queued': { type: 'string' },
      'no-local': { type: 'boolean' },
      loopback: { type: 'boolean' },
    },
  })
  const log = (line: string) => {
    if (process.stdout.writable) console.log(`${new Date().toISOString()} ${line}`)
  }
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
  })
  const served = await startServe({
    host: values.host,
    port: port(values.port, 8080, '--port'),
    relayWsPort: port(values['relay-ws-port'], 9090, '--relay-ws-port'),
    relayTcpPort: port(values['relay-tcp-port'], 9092, '--relay-tcp-port'),
    relayHttpPort: port(values['relay-http-port'], 9091, '--relay-http-port'),
    dataDir: values['data-dir'],
    tokenFile: values['token-file'],
    maxWorkers: values['max-workers'] ? positiveInt(values['max-workers'], '--max-workers') : undefined,
    includeLocal: !values['no-local'],
    loopback: values.loopback,
    jobs: {
      maxRunning: values['max-running'] ? positiveInt(values['max-running'], '--max-running') : undefined,
      maxQueued: values['max-queued'] ? positiveInt(values['max-queued'], '--max-queued') : undefined,
    },
    log,
  })
  if (served.tokenCreated) log(`token created (mode 0600): ${served.token}`)
  for (const a of served.relayAddrs) log(`relay listening: ${a}`)
  log(`serving ${served.url} (job API ${served.url}/api/jobs${served.dashboard ? ', dashboard /' : ''})`)
  const sig = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'))
    process.once('SIGTERM', () => resolve('SIGTERM'))
  })
  log(`${sig}: shutting down`)
  await served.stop()
  return 0
}
