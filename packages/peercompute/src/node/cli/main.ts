#!/usr/bin/env node
// The `peercompute` command.
import { parseArgs } from 'node:util'
import { BRIDGE_USAGE, bridgeCommand } from './bridge-command.js'
import { keysCommand, signCommand, verifyCommand } from './code-commands.js'
import { demoCommand } from './demo-command.js'
import { formatRuns, kernelCommand, UsageError } from './kernel-command.js'
import { mapCommand } from './map-command.js'
import { submitCommand, workerCommand } from './mesh-commands.js'
import { relayArgs } from './relay-args.js'

const USAGE = `usage: peercompute <command> [options]

commands:
  kernel <op|all> [FILE] [--size N] [--imm N] [--key HEX] [--json]
      run a built-in kernel (counteq, crc32c, fnv64, xor, add) over FILE, or over
      a generated buffer of N bytes (--size 256MiB), and print the result and GB/s
  demo [--workers N] [--size N] [--op OP] [--once]
      the whole mesh on this machine: a relay, N worker processes, a generated
      file served over loopback HTTP, one job across them; the relay's HTTP API
      stays up until Ctrl-C (--once: exit when the job is done)
  worker --relay ADDR [--relay ADDR] [--max-workers N] [--price MODEL:USD] [--loopback]
      run a Node peer that offers its cores to the mesh until Ctrl-C
  submit --relay ADDR --op OP (--file PATH | --url URL [--offset N] [--length N])
         [--imm N] [--redundancy K] [--policy NAME] [--peers N] [--no-local] [--json]
      run one job on the mesh; print the result and the per-piece table
  map --relay ADDR --kernel NAME --inputs FILE.jsonl [--module FILE] [--imm N] [--redundancy K]
      [--policy NAME] [--peers N] [--batch-items N] [--no-local]
      run one kernel over every line of FILE.jsonl on the mesh; print the results in
      input order, one JSON line each (a built-in's item: a string's UTF-8 bytes or
      {"base64": "..."}; --module registers NAME here from a module file)
  map --relay ADDR --code BUNDLE --inputs FILE.jsonl [...the options above]
      the same over signed code (peercompute sign): peers started with --trust KEY of its
      publisher fetch it from here, verify it and run it; items and results are JSON
  (--loopback keeps WebRTC and dials on 127.0.0.1 with no STUN, and lets URL sources be on
   loopback or private addresses: a mesh on one machine)
  keys new [--out DIR] [--name NAME]
      make a publisher's Ed25519 key pair: DIR/NAME.key (secret, mode 0600) and
      DIR/NAME.pub; print the public key (ed25519:<base64url>)
  sign FILE --key K [--kind kernel|wgsl] [--name N] [--version V] [--entry E]
       [--expires ISO] [--binding N:KIND]... [--limit NAME=VALUE]... [--out PATH] [--json]
      sign a kernel module or WGSL shader into a bundle (default FILE.bundle)
  verify BUNDLE --trust KEY [--trust KEY]...
      check a bundle as an executor would; print its manifest, or exit 1
  gateway --relay ADDR --target URL --substrate aws-lambda|cloudflare-worker|http
          [--price-model MODEL --price USD] [--concurrency N] [--function-token T]
      run a peer that forwards the tasks it accepts to a function (peercompute gateway --help)
  relay [--port N | --ws-port N] [--tcp-port N] [--http-port N] [--identity FILE] [limits...]
      run the standalone relay server (peercompute relay --help lists every flag)
${BRIDGE_USAGE}
  serve [--port N] [--relay-ws-port N] [--relay-tcp-port N] [--data-dir DIR] [--token-file F]
      a relay, a submitting node, the HTTP job API (/api/jobs) and the dashboard in one
      process (peercompute serve --help lists every flag)
  help
      print this text`

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE)
    return command === undefined ? 2 : 0
  }
  if (command === 'kernel') {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        size: { type: 'string' },
        imm: { type: 'string' },
        key: { type: 'string' },
        json: { type: 'boolean' },
      },
    })
    const [op, file, ...extra] = positionals
    if (op === undefined || extra.length) throw new UsageError('kernel takes an op and at most one FILE')
    const runs = await kernelCommand({ op, file, ...values })
    console.log(values.json ? JSON.stringify(runs) : formatRuns(runs, file ?? `generated ${values.size}`))
    return 0
  }
  if (command === 'demo') return demoCommand(rest)
  if (command === 'keys') return keysCommand(rest)
  if (command === 'sign') return signCommand(rest)
  if (command === 'verify') return verifyCommand(rest)
  if (command === 'worker') return workerCommand(rest)
  if (command === 'submit') return submitCommand(rest)
  if (command === 'map') return mapCommand(rest)
  if (command === 'bridge') return bridgeCommand(rest)
  // loaded when asked for: hono and prom-client cost the other commands nothing
  if (command === 'serve') return (await import('./serve-command.js')).serveCommand(rest)
  if (command === 'gateway') {
    // @peercompute/gateway depends on this package: load it by name at run time, like the relay
    const name = '@peercompute/gateway'
    const gateway = (await import(name)) as { runGateway(argv: string[]): Promise<number> }
    return gateway.runGateway(rest)
  }
  if (command === 'relay') {
    // @peercompute/relay depends on this package: load it by name at run time, not through the type graph
    const name = '@peercompute/relay'
    const relay = (await import(name)) as { runRelay(argv: string[]): Promise<number> }
    return relay.runRelay(relayArgs(rest))
  }
  throw new UsageError(`unknown command ${JSON.stringify(command)}`)
}

/**
 * Every command has stopped what it started when main() settles; exit then.
 * A WebRTC upgrade still in flight inside libp2p when the node stopped can
 * leave a node-datachannel peer connection whose native threads keep the event
 * loop alive (seen about one run in four), so a finished command exits
 * explicitly, once its output has been written.
 */
function exit(code: number): void {
  process.exitCode = code
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)))
}

main(process.argv.slice(2)).then(exit, (err: unknown) => {
  const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
  console.error(`peercompute: ${(err as Error).message}${usage ? `\n\n${USAGE}` : ''}`)
  exit(usage ? 2 : 1)
})
