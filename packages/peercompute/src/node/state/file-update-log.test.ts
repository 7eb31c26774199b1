import { appendFileSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { persistState } from '../../core/state/persistence.js'
import { StateManager } from '../../core/state/state-manager.js'
import { FileUpdateLog } from './file-update-log.js'

const dir = mkdtempSync(join(tmpdir(), 'pc-state-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const fresh = () => new StateManager({ room: 'r', selfId: 'me' })

describe('state persistence in Node (append-only update log)', () => {
  it('state survives a restart; compaction keeps the content and shrinks the file', async () => {
    const path = join(dir, 'doc.log')
    const a = fresh()
    const done = await persistState(a, new FileUpdateLog(path), { compactEvery: 1000 })
    for (let i = 0; i < 300; i++) a.map('m').set(`k${i % 10}`, i)
    a.text('t').insert(0, 'persisted')
    await done()
    const before = statSync(path).size

    const b = fresh()
    const done2 = await persistState(b, new FileUpdateLog(path), { compactEvery: 5 })
    expect(b.map('m').toJSON()).toEqual(a.map('m').toJSON())
    expect(b.text('t').toString()).toBe('persisted')
    for (let i = 0; i < 5; i++) b.map('m').set('late', i) // the 5th update compacts
    await done2()
    expect(statSync(path).size).toBeLessThan(before)

    const c = fresh()
    await (await persistState(c, new FileUpdateLog(path)))()
    expect(c.map('m').get('late')).toBe(4)
    expect(c.text('t').toString()).toBe('persisted')
  })

  it('a torn last update (a crash mid-append) is dropped, the rest loads', async () => {
    const path = join(dir, 'torn.log')
    const a = fresh()
    const done = await persistState(a, new FileUpdateLog(path))
    a.map('m').set('ok', 1)
    await done()
    appendFileSync(path, Uint8Array.of(0x40, 1, 2, 3)) // a frame header promising 64 bytes, then 3
    const lines: string[] = []
    const b = fresh()
    await (await persistState(b, new FileUpdateLog(path, { log: (l) => lines.push(l) })))()
    expect(b.map('m').toJSON()).toEqual({ ok: 1 })
    expect(lines.join('\n')).toMatch(/dropped a torn last update \(4 bytes\)/)
  })
})
