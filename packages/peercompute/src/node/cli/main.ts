#!/usr/bin/env node
// The `peercompute` command.
import { parseArgs } from 'node:util'
import { formatRuns, kernelCommand, UsageError } from './kernel-command.js'

const USAGE = `usage: peercompute <command> [options]

commands:
  kernel <op|all> [FILE] [--size N] [--imm N] [--key HEX] [--json]
      run a built-in kernel (counteq, crc32c, fnv64, xor, add) over FILE, or over
      a generated buffer of N bytes (--size 256MiB), and print the result and GB/s
  relay [--ws-port N] [--tcp-port N] [--http-port N] [--identity FILE] [limits...]
      run the standalone relay server (peercompute relay --help lists every flag)
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
  if (command === 'relay') {
    // @peercompute/relay depends on this package: load it by name at run time, not through the type graph
    const name = '@peercompute/relay'
    const relay = (await import(name)) as { runRelay(argv: string[]): Promise<number> }
    return relay.runRelay(rest)
  }
  throw new UsageError(`unknown command ${JSON.stringify(command)}`)
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (err: unknown) => {
    const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
    console.error(`peercompute: ${(err as Error).message}${usage ? `\n\n${USAGE}` : ''}`)
    process.exitCode = usage ? 2 : 1
  },
)
