import { execFile } from 'node:child_process'
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { verifyBundle } from '../../core/code/verify.js'
import { UntrustedCodeError } from '../../core/errors.js'

// The built CLI (dist/): `npx tsc -b` after changing library code.
const main = fileURLToPath(new URL('../../../dist/node/cli/main.js', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'pc-sign-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [main, ...args])
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

describe('peercompute keys new / sign / verify', () => {
  const kernel = join(dir, 'inc.js')
  writeFileSync(kernel, 'export default (input) => input.map((x) => x + 1)\n')

  it('keys new writes a mode-0600 secret key and prints the public key; it never overwrites', async () => {
    const r = await cli('keys', 'new', '--out', dir)
    expect(r.code).toBe(0)
    const publicKey = r.stdout.trim()
    expect(publicKey).toMatch(/^ed25519:[A-Za-z0-9_-]{43}$/)
    expect(statSync(join(dir, 'publisher.key')).mode & 0o777).toBe(0o600)
    expect(readFileSync(join(dir, 'publisher.key'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----\n/)
    expect(readFileSync(join(dir, 'publisher.pub'), 'utf8')).toBe(`${publicKey}\n`)
    const again = await cli('keys', 'new', '--out', dir)
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/EEXIST/)
    expect(readFileSync(join(dir, 'publisher.pub'), 'utf8')).toBe(`${publicKey}\n`)
  })

  it('sign makes a bundle that verifies with the public key, and only with it', async () => {
    const publicKey = readFileSync(join(dir, 'publisher.pub'), 'utf8').trim()
    const r = await cli(
      'sign',
      kernel,
      '--key',
      join(dir, 'publisher.key'),
      '--version',
      '2.1.0',
      '--limit',
      'timeoutMs=5000',
      '--limit',
      'maxOutputBytes=1MiB',
      '--expires',
      '2099-01-01T00:00:00Z',
      '--json',
    )
    expect(r.code, r.stderr).toBe(0)
    const out = JSON.parse(r.stdout)
    expect(out.out).toBe(`${kernel}.bundle`)
    expect(out.publicKey).toBe(publicKey)
    const v = await verifyBundle(readFileSync(out.out), { trust: [publicKey] })
    expect(v.code).toEqual(new Uint8Array(readFileSync(kernel)))
    expect(v.manifest).toMatchObject({
      name: 'inc',
      version: '2.1.0',
      kind: 'kernel',
      entry: 'default',
      limits: { timeoutMs: 5000, maxOutputBytes: 1 << 20 },
      expires: '2099-01-01T00:00:00.000Z',
    })
    const ok = await cli('verify', out.out, '--trust', publicKey)
    expect(ok.code).toBe(0)
    expect(JSON.parse(ok.stdout).manifest.sha256).toBe(v.manifest.sha256)

    expect((await cli('keys', 'new', '--out', join(dir, 'new', 'dir'), '--name', 'other')).code).toBe(0)
    const otherKey = readFileSync(join(dir, 'new', 'dir', 'other.pub'), 'utf8').trim()
    const refused = await cli('verify', out.out, '--trust', otherKey)
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/not a trusted key/)
    await expect(verifyBundle(readFileSync(out.out), { trust: [otherKey] })).rejects.toThrow(UntrustedCodeError)
  })

  it('signs a WGSL shader with its bindings (kind from the file name)', async () => {
    const shader = join(dir, 'double.wgsl')
    writeFileSync(shader, '@compute @workgroup_size(64) fn main() {}\n')
    const r = await cli(
      'sign',
      shader,
      '--key',
      join(dir, 'publisher.key'),
      '--binding',
      '1:storage',
      '--binding',
      '0:storage-read',
      '--json',
    )
    expect(r.code, r.stderr).toBe(0)
    const { manifest } = JSON.parse(r.stdout)
    expect(manifest).toMatchObject({ kind: 'wgsl', entry: 'main', name: 'double' })
    expect(manifest.bindings).toEqual([
      { binding: 0, kind: 'storage-read' },
      { binding: 1, kind: 'storage' },
    ])
  })

  it('refuses a secret key others may read, bad options and a shader without bindings', async () => {
    const open = join(dir, 'open.key')
    writeFileSync(open, readFileSync(join(dir, 'publisher.key')))
    chmodSync(open, 0o644)
    const r = await cli('sign', kernel, '--key', open)
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/mode 0644: others may read it/)
    expect((await cli('sign', kernel)).stderr).toMatch(/--key FILE/)
    expect((await cli('sign', kernel, '--key', join(dir, 'publisher.key'), '--kind', 'wasm')).code).toBe(2)
    const noBindings = await cli('sign', kernel, '--key', join(dir, 'publisher.key'), '--kind', 'wgsl')
    expect(noBindings.code).toBe(1)
    expect(noBindings.stderr).toMatch(/at least one binding/)
    const badName = await cli('sign', kernel, '--key', join(dir, 'publisher.key'), '--name', 'a/b')
    expect(badName.stderr).toMatch(/manifest.name/)
  })
})
