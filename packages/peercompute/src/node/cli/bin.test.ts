import { execFile } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { parseRelayConfig } from '@peercompute/relay'
import { describe, expect, it } from 'vitest'
import { relayArgs } from './relay-args.js'

const BIN = fileURLToPath(new URL('../../../bin/peercompute.js', import.meta.url))
const run = promisify(execFile)

describe('the committed bin script', () => {
  it('is what package.json links, and runs the built CLI', async () => {
    const pkg = await import('../../../package.json', { with: { type: 'json' } })
    expect(pkg.default.bin.peercompute).toBe('./bin/peercompute.js')
    const { stdout } = await run(process.execPath, [BIN, '--help'])
    expect(stdout).toMatch(/^usage: peercompute <command>/)
    expect(stdout).toMatch(/serve \[--port N\]/)
  })

  it('is committed and in the lock file, so that npm ci links it before anything is built', async () => {
    const root = fileURLToPath(new URL('../../../../../', import.meta.url))
    const tracked = await run('git', ['ls-files', '--error-unmatch', 'packages/peercompute/bin/peercompute.js'], {
      cwd: root,
    })
    expect(tracked.stdout.trim()).toBe('packages/peercompute/bin/peercompute.js')
    const lock = JSON.parse(readFileSync(`${root}/package-lock.json`, 'utf8'))
    expect(lock.packages['packages/peercompute'].bin).toEqual({ peercompute: 'bin/peercompute.js' })
  })

  it('on Node older than 22 says in one line which Node it needs, and exits 1', async () => {
    // the system Node (20 on the project's machines); else pretend with an older version string
    const old = existsSync('/usr/bin/node') ? '/usr/bin/node' : undefined
    const { stdout: v } = old ? await run(old, ['--version']) : { stdout: '' }
    const args =
      old && Number(v.slice(1).split('.')[0]) < 22
        ? [old, [BIN, '--help']]
        : [
            process.execPath,
            [
              '--input-type=module',
              '-e',
              `Object.defineProperty(process.versions, 'node', { value: '20.0.0' }); await import(${JSON.stringify(BIN)})`,
            ],
          ]
    const err = await run(args[0] as string, args[1] as string[]).catch((e) => e)
    expect(err.code).toBe(1)
    expect(err.stdout).toBe('')
    const lines = err.stderr.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^peercompute needs Node 22 or newer; this is Node 2\d\./)
  })
})

describe('peercompute relay arguments', () => {
  it('accepts --port N (the design’s spelling) as the WebSocket port', () => {
    expect(relayArgs(['--port', '9090', '--tcp-port', '1'])).toEqual(['--ws-port', '9090', '--tcp-port', '1'])
    expect(relayArgs(['--port=9090'])).toEqual(['--ws-port=9090'])
    expect(relayArgs(['--http-port', '9091'])).toEqual(['--http-port', '9091'])
    expect(parseRelayConfig(relayArgs(['--port', '9999']), {}).wsPort).toBe(9999)
  })
})
