import { describe, expect, it } from 'vitest'
import * as Y from 'yjs'
import { persistState, type StatePersistence } from './persistence.js'
import { StateManager } from './state-manager.js'

/** An in-memory store that fails while `broken` is set. */
interface MemoryStore extends StatePersistence {
  updates: Uint8Array[]
  broken: boolean
}

function memoryStore(initial: Uint8Array[] = []): MemoryStore {
  const store: MemoryStore = {
    updates: [...initial],
    broken: false,
    async load() {
      return [...store.updates]
    },
    async append(u: Uint8Array) {
      if (store.broken) throw new Error('disk full')
      store.updates.push(u)
    },
    async compact(s: Uint8Array) {
      if (store.broken) throw new Error('disk full')
      store.updates = [s]
    },
    async close() {
      if (store.broken) throw new Error('disk gone')
    },
  }
  return store
}

const fresh = () => new StateManager({ room: 'r', selfId: 'me' })
const reload = (updates: Uint8Array[]) => {
  const d = new Y.Doc()
  for (const u of updates) Y.applyUpdate(d, u)
  return d.getMap('m').toJSON()
}

/** Resolves once `cond` holds, checking after each turn of the event loop (bounded). */
async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !cond(); i++) await new Promise((r) => setImmediate(r))
  if (!cond()) throw new Error('condition never held')
}

describe('persistState with a failing store', () => {
  it('no unhandled rejection; each failure is an event; the updates go out once the store works again', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (e: unknown) => unhandled.push(e)
    process.on('unhandledRejection', onUnhandled)
    try {
      const store = memoryStore()
      const s = fresh()
      const errors: Array<{ message: string; unsaved: number }> = []
      s.addEventListener('state:store-error', (e) =>
        errors.push({ message: e.detail.error.message, unsaved: e.detail.unsaved }),
      )
      const done = await persistState(s, store, { compactEvery: 1000 })
      s.map('m').set('a', 1)
      await until(() => store.updates.length === 1) // 'a' is written
      store.broken = true
      s.map('m').set('b', 2)
      s.map('m').set('c', 3)
      await until(() => errors.length > 0)
      expect(errors[0].message).toBe('disk full')
      expect(reload(store.updates)).toEqual({ a: 1 })
      store.broken = false
      s.map('m').set('d', 4) // the next write carries the unsaved ones too
      await done()
      expect(reload(store.updates)).toEqual({ a: 1, b: 2, c: 3, d: 4 })
      // Node reports an unhandled rejection after the turn it happened in: give it one
      await new Promise((r) => setImmediate(r))
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })

  it('what is still unsaved at detach is reported, and detach does not reject', async () => {
    const store = memoryStore()
    const s = fresh()
    const unsaved: number[] = []
    s.addEventListener('state:store-error', (e) => unsaved.push(e.detail.unsaved))
    const done = await persistState(s, store, { compactEvery: 2 })
    store.broken = true
    s.map('m').set('a', 1)
    s.map('m').set('b', 2)
    await expect(done()).resolves.toBeUndefined()
    expect(Math.max(...unsaved)).toBe(2)
  })

  it('stored updates that do not parse: the ones before the damaged one are loaded', async () => {
    const src = new Y.Doc()
    const updates: Uint8Array[] = []
    src.on('update', (u: Uint8Array) => updates.push(u))
    src.getMap('m').set('x', 1)
    src.getMap('m').set('y', 2)
    const s = fresh()
    const errors: string[] = []
    s.addEventListener('state:store-error', (e) => errors.push(e.detail.error.message))
    await (await persistState(s, memoryStore([updates[0], Uint8Array.of(9, 9, 9), updates[1]])))()
    expect(s.map('m').toJSON()).toEqual({ x: 1 })
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/stored update 2 of 3 is malformed .*kept the 1 before it/)
  })
})
