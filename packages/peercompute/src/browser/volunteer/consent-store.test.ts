import { describe, expect, it } from 'vitest'
import { ConsentStore } from './consent-store.js'

function memoryStorage() {
  const m = new Map<string, string>()
  return {
    map: m,
    getItem: (k: string) => m.get(k) ?? null,
    setItem: (k: string, v: string) => void m.set(k, v),
    removeItem: (k: string) => void m.delete(k),
  }
}

describe('ConsentStore', () => {
  it('remembers an answer for 30 days by default, then asks again', () => {
    const s = memoryStorage()
    let now = 1_000_000
    const store = new ConsentStore(s, undefined, () => now)
    expect(store.read()).toBeUndefined()
    store.write(true)
    now += 29 * 86_400_000
    expect(store.read()).toBe(true)
    now += 2 * 86_400_000
    expect(store.read()).toBeUndefined()
    expect(s.map.size).toBe(0)
  })

  it('withdrawal is remembered as a refusal for the same bounded time', () => {
    let now = 0
    const store = new ConsentStore(memoryStorage(), 7, () => now)
    store.write(true)
    store.withdraw()
    expect(store.read()).toBe(false)
    now = 8 * 86_400_000
    expect(store.read()).toBeUndefined()
  })

  it('a damaged, oversized or foreign record means "ask"; a throwing or missing storage too', () => {
    const s = memoryStorage()
    const store = new ConsentStore(s)
    for (const raw of [
      '{',
      '"yes"',
      '{"granted":"true","expires":9e15}',
      `{"granted":true,"expires":9e15,"x":"${'a'.repeat(300)}"}`,
    ]) {
      s.map.set('peercompute.volunteer.consent', raw)
      expect(store.read()).toBeUndefined()
    }
    const throwing = {
      getItem: () => {
        throw new Error('denied')
      },
      setItem: () => {
        throw new Error('denied')
      },
      removeItem: () => {
        throw new Error('denied')
      },
    }
    const t = new ConsentStore(throwing)
    expect(() => t.write(true)).not.toThrow()
    expect(t.read()).toBeUndefined()
    expect(new ConsentStore(undefined).read()).toBeUndefined()
  })
})
