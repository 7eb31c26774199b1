import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { hasBearer, loadOrCreateApiToken } from './api-token.js'

const dir = mkdtempSync(join(tmpdir(), 'pc-token-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const req = (authorization?: string) => ({ headers: { authorization } }) as IncomingMessage

describe('API token', () => {
  it('is made on first start in a mode-0600 file and reused on restart', () => {
    const path = join(dir, 'sub', 'relay.token')
    const a = loadOrCreateApiToken(path)
    const b = loadOrCreateApiToken(path)
    expect(a.created).toBe(true)
    expect(b.created).toBe(false)
    expect(b.token).toBe(a.token)
    expect(a.token).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(statSync(path).mode & 0o777).toBe(0o600)
    expect(readFileSync(path, 'utf8').trim()).toBe(a.token)
    expect(loadOrCreateApiToken(join(dir, 'other.token')).token).not.toBe(a.token)
  })

  it('refuses a token file others may read, or one that holds no token', () => {
    const open = join(dir, 'open.token')
    writeFileSync(open, `${'a'.repeat(40)}\n`)
    chmodSync(open, 0o644)
    expect(() => loadOrCreateApiToken(open)).toThrow(/mode 0644: others may read it/)
    const bad = join(dir, 'bad.token')
    writeFileSync(bad, 'short\n', { mode: 0o600 })
    expect(() => loadOrCreateApiToken(bad)).toThrow(/does not hold a token/)
  })

  it('accepts exactly "Bearer <token>"', () => {
    const t = 'x'.repeat(43)
    expect(hasBearer(req(`Bearer ${t}`), t)).toBe(true)
    expect(hasBearer(req(`bearer ${t}`), t)).toBe(true)
    expect(hasBearer(req(`Bearer ${t}y`), t)).toBe(false)
    expect(hasBearer(req(`Bearer ${t.slice(1)}`), t)).toBe(false)
    expect(hasBearer(req(`Basic ${t}`), t)).toBe(false)
    expect(hasBearer(req(t), t)).toBe(false)
    expect(hasBearer(req(), t)).toBe(false)
  })
})
