// The messages the tabs of one site exchange over BroadcastChannel. Another tab
// is same-origin, but it may run another version of the script, a stale one, or
// a page script that posts to the same channel name: every message is checked
// here, where it enters, for its shape and size before anything acts on it.

/** Version of the tab protocol; a message of another version is dropped. */
export const TAB_PROTOCOL_VERSION = 1

/** Largest accepted state snapshot, in (estimated) JSON bytes. */
export const MAX_TAB_STATE_BYTES = 64 * 1024

/** Deepest nesting accepted in a state snapshot. */
export const MAX_TAB_STATE_DEPTH = 16

/** What a tab may ask of the node the leader tab runs. */
export type TabCommand = 'pause' | 'resume' | 'withdraw'

/** The commands, for checks and for user interfaces. */
export const TAB_COMMANDS: readonly TabCommand[] = ['pause', 'resume', 'withdraw']

/** A JSON value: what a state snapshot may hold. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

/** A message between the tabs of one site. `from` is the sending tab's random id. */
export type TabMessage =
  /** A tab that just became a follower asks the leader for its state now. */
  | { v: typeof TAB_PROTOCOL_VERSION; type: 'hello'; from: string }
  /** The leader's node state; `seq` grows with each snapshot of one leader. */
  | { v: typeof TAB_PROTOCOL_VERSION; type: 'state'; from: string; seq: number; state: JsonValue }
  /** A command for the leader's node (every tab sees it: `withdraw` stops them all). */
  | { v: typeof TAB_PROTOCOL_VERSION; type: 'command'; from: string; command: TabCommand }
  /** A follower's visibility, on change, on a heartbeat while visible, and `false` as it goes away. */
  | { v: typeof TAB_PROTOCOL_VERSION; type: 'presence'; from: string; visible: boolean }

const TAB_ID = /^[A-Za-z0-9_-]{8,64}$/

/** A fresh random tab id (the `from` of this tab's messages). */
export function newTabId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12))
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

/** True for a plain object: `{}` or `Object.create(null)`, not an array, Map, Date or typed array. */
function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false
  const proto = Object.getPrototypeOf(x)
  return proto === Object.prototype || proto === null
}

/** True when `o` has exactly the keys `keys` (own, enumerable). */
function hasExactKeys(o: Record<string, unknown>, keys: readonly string[]): boolean {
  const own = Object.keys(o)
  return own.length === keys.length && keys.every((k) => Object.hasOwn(o, k))
}

/**
 * The JSON size of `value` (an estimate that never undercounts by much), or
 * `undefined` when it is not a JSON value, nests deeper than `maxDepth`, or
 * passes `budget` bytes. The walk stops as soon as the budget is spent, so a
 * huge or cyclic value costs no more than the budget to refuse.
 */
export function jsonValueSize(value: unknown, budget = MAX_TAB_STATE_BYTES, maxDepth = MAX_TAB_STATE_DEPTH) {
  let used = 0
  const walk = (x: unknown, depth: number): boolean => {
    if (depth > maxDepth) return false
    if (x === null || typeof x === 'boolean') used += 5
    else if (typeof x === 'number') {
      if (!Number.isFinite(x)) return false
      used += 24
    } else if (typeof x === 'string')
      used += x.length * 3 + 2 // \u escapes and UTF-8 at worst
    else if (Array.isArray(x)) {
      used += 2
      for (let i = 0; i < x.length; i++) {
        if (used > budget || !walk(x[i], depth + 1)) return false
        used += 1
      }
    } else if (isPlainObject(x)) {
      used += 2
      for (const k in x) {
        if (!Object.hasOwn(x, k)) continue
        used += k.length * 3 + 3
        if (used > budget || !walk(x[k], depth + 1)) return false
        used += 1
      }
    } else return false
    return used <= budget
  }
  return walk(value, 0) ? used : undefined
}

/**
 * Checks a message another tab posted. Returns it typed, or `undefined` for
 * anything that is not exactly a message of this protocol: another version, an
 * unknown type, extra or missing fields, a bad tab id, a command not in
 * {@link TAB_COMMANDS}, or a state that is not JSON within
 * {@link MAX_TAB_STATE_BYTES} and {@link MAX_TAB_STATE_DEPTH}.
 */
export function parseTabMessage(data: unknown): TabMessage | undefined {
  if (!isPlainObject(data) || data.v !== TAB_PROTOCOL_VERSION) return undefined
  if (typeof data.from !== 'string' || !TAB_ID.test(data.from)) return undefined
  const from = data.from
  switch (data.type) {
    case 'hello':
      return hasExactKeys(data, ['v', 'type', 'from']) ? { v: 1, type: 'hello', from } : undefined
    case 'state': {
      if (!hasExactKeys(data, ['v', 'type', 'from', 'seq', 'state'])) return undefined
      const seq = data.seq
      if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return undefined
      if (jsonValueSize(data.state) === undefined) return undefined
      return { v: 1, type: 'state', from, seq, state: data.state as JsonValue }
    }
    case 'command': {
      if (!hasExactKeys(data, ['v', 'type', 'from', 'command'])) return undefined
      const command = data.command
      if (typeof command !== 'string' || !(TAB_COMMANDS as readonly string[]).includes(command)) return undefined
      return { v: 1, type: 'command', from, command: command as TabCommand }
    }
    case 'presence': {
      if (!hasExactKeys(data, ['v', 'type', 'from', 'visible']) || typeof data.visible !== 'boolean') return undefined
      return { v: 1, type: 'presence', from, visible: data.visible }
    }
    default:
      return undefined
  }
}

/**
 * A node's status as a JSON value within the state budget, for a `state`
 * message: a JSON round trip (drops functions and `undefined`, turns dates
 * into strings), or `undefined` when it cannot be made one or is too large.
 */
export function toTabState(status: unknown): JsonValue | undefined {
  let v: unknown
  try {
    const text = JSON.stringify(status)
    if (text === undefined || text.length > MAX_TAB_STATE_BYTES) return undefined
    v = JSON.parse(text)
  } catch {
    return undefined // cyclic, or a toJSON that throws
  }
  return jsonValueSize(v) === undefined ? undefined : (v as JsonValue)
}
