import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  jsonValueSize,
  MAX_TAB_STATE_BYTES,
  MAX_TAB_STATE_DEPTH,
  newTabId,
  parseTabMessage,
  TAB_COMMANDS,
  toTabState,
} from './messages.js'

const from = newTabId()

describe('parseTabMessage', () => {
  it('accepts each message type exactly as sent', () => {
    const hello = { v: 1, type: 'hello', from }
    const state = { v: 1, type: 'state', from, seq: 7, state: { peerId: '12D3Koo', n: [1, 2.5, null, true] } }
    expect(parseTabMessage(hello)).toEqual(hello)
    expect(parseTabMessage(state)).toEqual(state)
    for (const visible of [true, false]) {
      const msg = { v: 1, type: 'presence', from, visible }
      expect(parseTabMessage(msg)).toEqual(msg)
    }
    for (const command of TAB_COMMANDS) {
      const msg = { v: 1, type: 'command', from, command }
      expect(parseTabMessage(msg)).toEqual(msg)
    }
    // a structured clone arrives with a null prototype in some realms: still a plain object
    expect(parseTabMessage(Object.assign(Object.create(null), hello))).toEqual(hello)
  })

  it('drops anything that is not exactly a message of this version', () => {
    const bad: unknown[] = [
      undefined,
      null,
      'hello',
      42,
      [],
      new Map([['v', 1]]),
      { type: 'hello', from }, // no version
      { v: 2, type: 'hello', from }, // another version
      { v: '1', type: 'hello', from },
      { v: 1, type: 'bye', from }, // unknown type
      { v: 1, type: 'hello', from, extra: 1 }, // extra field
      { v: 1, type: 'hello' }, // no sender
      { v: 1, type: 'hello', from: 'short' },
      { v: 1, type: 'hello', from: 'x'.repeat(65) },
      { v: 1, type: 'hello', from: 'has spaces in it' },
      { v: 1, type: 'hello', from: 12345678 },
      { v: 1, type: 'command', from, command: 'format-disk' },
      { v: 1, type: 'command', from, command: ['pause'] },
      { v: 1, type: 'command', from },
      { v: 1, type: 'presence', from, visible: 'yes' },
      { v: 1, type: 'presence', from, visible: 1 },
      { v: 1, type: 'presence', from },
      { v: 1, type: 'state', from, seq: -1, state: {} },
      { v: 1, type: 'state', from, seq: 1.5, state: {} },
      { v: 1, type: 'state', from, seq: Number.MAX_SAFE_INTEGER + 1, state: {} },
      { v: 1, type: 'state', from, seq: '1', state: {} },
      { v: 1, type: 'state', from, seq: 1 }, // no state
      { v: 1, type: 'state', from, seq: 1, state: { when: new Date() } }, // not JSON
      { v: 1, type: 'state', from, seq: 1, state: { n: Number.NaN } },
      { v: 1, type: 'state', from, seq: 1, state: { n: Number.POSITIVE_INFINITY } },
      { v: 1, type: 'state', from, seq: 1, state: { b: new Uint8Array(4) } },
      { v: 1, type: 'state', from, seq: 1, state: { s: 'x'.repeat(MAX_TAB_STATE_BYTES) } }, // too large
    ]
    for (const b of bad) expect(parseTabMessage(b), JSON.stringify(b) ?? String(b)).toBeUndefined()
  })

  it('refuses a state nested deeper than the bound, and a cyclic one, without blowing the stack', () => {
    let deep: unknown = 1
    for (let i = 0; i < MAX_TAB_STATE_DEPTH + 1; i++) deep = [deep]
    expect(parseTabMessage({ v: 1, type: 'state', from, seq: 0, state: deep })).toBeUndefined()
    let veryDeep: unknown = 1
    for (let i = 0; i < 100_000; i++) veryDeep = { a: veryDeep }
    expect(parseTabMessage({ v: 1, type: 'state', from, seq: 0, state: veryDeep })).toBeUndefined()
    const cyclic: Record<string, unknown> = { a: 1 }
    cyclic.self = cyclic
    expect(parseTabMessage({ v: 1, type: 'state', from, seq: 0, state: cyclic })).toBeUndefined()
  })

  it('stops walking a huge state once its budget is spent', () => {
    const wide = new Array(10_000_000).fill(0)
    expect(jsonValueSize(wide)).toBeUndefined()
    // the refusal visits about budget/25 elements, not ten million
    let visited = 0
    const counting = new Proxy(wide, {
      get(target, key, recv) {
        if (typeof key === 'string' && /^\d+$/.test(key)) visited++
        return Reflect.get(target, key, recv)
      },
    })
    expect(jsonValueSize(counting)).toBeUndefined()
    expect(visited).toBeLessThan(MAX_TAB_STATE_BYTES / 20)
  })

  it('never throws and accepts only what it returns unchanged (property)', () => {
    fc.assert(
      fc.property(fc.anything(), (x) => {
        const m = parseTabMessage(x)
        if (m !== undefined) expect(m).toEqual(x)
      }),
    )
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.nat(), (state, seq) => {
        const msg = { v: 1, type: 'state', from, seq, state }
        // fast-check's JSON may hold -0, which JSON turns into 0; sizes within budget are accepted
        if ((jsonValueSize(state) ?? Infinity) <= MAX_TAB_STATE_BYTES) expect(parseTabMessage(msg)).toEqual(msg)
      }),
    )
  })
})

describe('toTabState', () => {
  it('makes a status JSON, or refuses it', () => {
    expect(toTabState({ a: 1, f: () => 1, u: undefined, d: new Date(0) })).toEqual({
      a: 1,
      d: '1970-01-01T00:00:00.000Z',
    })
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(toTabState(cyclic)).toBeUndefined()
    expect(toTabState(undefined)).toBeUndefined()
    expect(toTabState({ s: 'x'.repeat(MAX_TAB_STATE_BYTES) })).toBeUndefined()
  })
})

describe('newTabId', () => {
  it('is a valid, random sender id', () => {
    const a = newTabId()
    expect(parseTabMessage({ v: 1, type: 'hello', from: a })).toBeDefined()
    expect(newTabId()).not.toBe(a)
  })
})
