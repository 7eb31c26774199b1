import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { counteq, crc32c, fnv64 } from '@peercompute/kernels'
import { afterAll, describe, expect, it } from 'vitest'
import { kernelCommand, UsageError } from './kernel-command.js'
import { formatSize, parseSize } from './size.js'

const dir = mkdtempSync(join(tmpdir(), 'pc-cli-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('sizes', () => {
  it('parses and formats', () => {
    expect(parseSize('4096')).toBe(4096)
    expect(parseSize('64KiB')).toBe(65536)
    expect(parseSize('256MiB')).toBe(256 * 2 ** 20)
    expect(parseSize('1GB')).toBe(1e9)
    expect(() => parseSize('12 parsecs')).toThrow(/not a size/)
    expect(() => parseSize('1.5')).toThrow(/whole number/)
    expect(formatSize(256 * 2 ** 20)).toBe('256 MiB')
    expect(formatSize(10)).toBe('10 B')
  })
})

describe('peercompute kernel', () => {
  const file = join(dir, 'data.bin')
  const data = Uint8Array.from({ length: 100_003 }, (_, i) => (i * 7919) & 0xff)
  writeFileSync(file, data)

  it('runs every op over a file and matches the kernels', async () => {
    const runs = await kernelCommand({ op: 'all', file, imm: '7' })
    const by = Object.fromEntries(runs.map((r) => [r.op, r.result]))
    expect(by.counteq).toBe(String(counteq(data, 7)))
    expect(by.crc32c).toBe(`0x${crc32c(data).toString(16).padStart(8, '0')}`)
    expect(by.fnv64).toBe(`0x${fnv64(data).toString(16).padStart(16, '0')}`)
    expect(by.add).toMatch(/^100003 bytes, crc32c 0x/)
    expect(runs.every((r) => r.bytes === data.length && r.gbps > 0)).toBe(true)
  })

  it('rejects bad usage with a UsageError', async () => {
    await expect(kernelCommand({ op: 'sha1', size: '1' })).rejects.toThrow(UsageError)
    await expect(kernelCommand({ op: 'crc32c' })).rejects.toThrow(/FILE or --size/)
    await expect(kernelCommand({ op: 'add', size: '8', imm: '300' })).rejects.toThrow(/--imm/)
    await expect(kernelCommand({ op: 'xor', size: '8', key: 'xyz' })).rejects.toThrow(/--key/)
  })

  it("the README's main command (npm start) runs this CLI", () => {
    const root = new URL('../../../../../', import.meta.url)
    const start: string = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')).scripts.start
    const script = /node (\S+)/.exec(start)?.[1]
    expect(script).toBe('packages/peercompute/dist/node/cli/main.js')
    expect(existsSync(new URL(script as string, root))).toBe(true)
  })

  it('the built command prints results and exits 2 on usage errors', async () => {
    const main = fileURLToPath(new URL('../../../dist/node/cli/main.js', import.meta.url))
    const run = promisify(execFile)
    const ok = await run(process.execPath, [main, 'kernel', 'crc32c', file, '--json'])
    expect(JSON.parse(ok.stdout)[0].result).toBe(`0x${crc32c(data).toString(16).padStart(8, '0')}`)
    const bad = await run(process.execPath, [main, 'kernel', 'nope', '--size', '1']).catch((e) => e)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/unknown op "nope"/)
  })
})
