#!/usr/bin/env node
// peercompute-relay (also `peercompute relay`): the standalone relay process.
import { loadOrCreateApiToken } from './api-token.js'
import { parseRelayConfig, RELAY_USAGE } from './config.js'
import { loadOrCreateIdentity } from './identity.js'
import { startRelay } from './relay.js'

/** Runs the relay until SIGINT or SIGTERM; resolves with the exit code. */
export async function runRelay(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(RELAY_USAGE)
    return 0
  }
  let config: ReturnType<typeof parseRelayConfig>
  try {
    config = parseRelayConfig(argv, process.env)
  } catch (err) {
    console.error(`peercompute relay: ${(err as Error).message}\n\n${RELAY_USAGE}`)
    return 2
  }
  // whoever reads our log may go away (a closed pipe): the relay keeps serving
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err
  })
  const log = (line: string) => {
    if (process.stdout.writable) console.log(`${new Date().toISOString()} ${line}`)
  }
  const { key, created } = await loadOrCreateIdentity(config.identity)
  if (created) log(`identity created: ${config.identity} (mode 0600)`)
  const api = loadOrCreateApiToken(config.tokenFile)
  // printed once, when made: afterwards it is only in the file
  if (api.created) log(`http api token created: ${config.tokenFile} (mode 0600): ${api.token}`)
  const relay = await startRelay({ privateKey: key, ...config, token: api.token, log })
  for (const a of relay.multiaddrs) log(`listening: ${a}`)
  if (config.publicApi) log('http api: --public-api: /api/peers and /api/mesh are open to anyone')
  log(`http api: ${relay.httpUrl}/healthz`)
  log(`dashboard: ${relay.httpUrl}/`)
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log(`${sig}: shutting down`)
      resolve()
    }
    process.once('SIGINT', () => stop('SIGINT'))
    process.once('SIGTERM', () => stop('SIGTERM'))
  })
  await relay.stop()
  return 0
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runRelay(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code
    },
    (err) => {
      console.error(`peercompute relay: ${(err as Error).stack ?? err}`)
      process.exitCode = 1
    },
  )
}
