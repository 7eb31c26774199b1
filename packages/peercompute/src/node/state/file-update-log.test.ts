import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { PayloadTooLargeError } from '../../core/errors.js'
import { persistState } from '../../core/state/persistence.js'
import { StateManager } from '../../core/state/state-manager.js'
import { encodeFrame } from '../../core/wire/frames.js'
import { FileUpdateLog, readFrames } from './file-update-log.js'

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
    expect(lines.join('\n')).toMatch(/a torn last update; kept the 1 updates before it, dropped 4 bytes/)
  })

  it('10 good updates, then a bad length: all 10 load, and updates appended afterwards load too', async () => {
    const path = join(dir, 'bad-length.log')
    const a = fresh()
    const done = await persistState(a, new FileUpdateLog(path))
    for (let i = 0; i < 10; i++) {
      a.map('m').set(`k${i}`, i)
      await new Promise((r) => setTimeout(r, 0)) // each its own frame (a turn's updates are written as one)
    }
    await done()
    expect(readFrames(readFileSync(path), 1 << 20).frames).toHaveLength(10)
    const good = statSync(path).size
    appendFileSync(path, Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3)) // a length of 2^32-1
    const lines: string[] = []
    const b = fresh()
    const done2 = await persistState(b, new FileUpdateLog(path, { log: (l) => lines.push(l) }))
    const want = Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`k${i}`, i]))
    expect(b.map('m').toJSON()).toEqual(want)
    expect(lines.join('\n')).toMatch(/over the limit .*kept the 10 updates before it, dropped 8 bytes/)
    expect(statSync(path).size).toBe(good) // cut back to the good frames
    b.map('m').set('after', true)
    await done2()
    const c = fresh()
    await (await persistState(c, new FileUpdateLog(path)))()
    expect(c.map('m').toJSON()).toEqual({ ...want, after: true })
  })

  it('readFrames keeps every whole frame before a torn or over-long one', () => {
    const frames = [Uint8Array.of(1), new Uint8Array(300).fill(7), new Uint8Array(0)]
    const whole = new Uint8Array(Buffer.concat(frames.map(encodeFrame)))
    expect(readFrames(whole, 1000)).toEqual({ frames, good: whole.length })
    for (let cut = 0; cut < whole.length; cut++) {
      const r = readFrames(whole.subarray(0, cut), 1000)
      expect(r.frames).toEqual(frames.slice(0, r.frames.length))
      expect(r.good).toBe(r.frames.reduce((n, f) => n + encodeFrame(f).length, 0))
      if (r.good === cut)
        expect(r.problem, `cut at ${cut}`).toBeUndefined() // a frame boundary
      else expect(r.problem, `cut at ${cut}`).toMatch(/torn/)
    }
    expect(readFrames(whole, 299)).toMatchObject({ frames: [frames[0]], good: 2, problem: /over the limit of 299/ })
    expect(readFrames(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0), 10).problem).toMatch(/longer than 5 bytes/)
  })

  it('a snapshot the reader would refuse is never written: a clear error, and the stored document still loads', async () => {
    const path = join(dir, 'big.log')
    const a = fresh()
    const errors: string[] = []
    a.addEventListener('state:store-error', (e) => errors.push(e.detail.error.name))
    const store = new FileUpdateLog(path, { maxUpdateBytes: 4096 })
    const done = await persistState(a, store, { compactEvery: 3 })
    for (let i = 0; i < 10; i++) a.map('m').set(`k${i}`, 'x'.repeat(1000)) // each ~1 KiB; the document outgrows 4 KiB
    await done()
    expect(errors.length).toBeGreaterThan(0)
    expect(new Set(errors)).toEqual(new Set(['PayloadTooLargeError']))
    expect(existsSync(`${path}.compacting`)).toBe(false)
    await expect(store.compact(new Uint8Array(4097))).rejects.toThrow(PayloadTooLargeError)
    await expect(store.append(new Uint8Array(4097))).rejects.toThrow(/over maxUpdateBytes \(4096\); not written/)
    const b = fresh()
    await (await persistState(b, new FileUpdateLog(path, { maxUpdateBytes: 4096 })))()
    expect(b.map('m').toJSON()).toEqual(a.map('m').toJSON()) // nothing lost: appends went on instead
    expect(readFileSync(path).length).toBeGreaterThan(10_000)
  })
})
