import * as decoding from 'lib0/decoding'
import { ProtocolError } from '../errors.js'
import { type Capabilities, type Load, parseCapabilities, parseLoad } from '../wire/registry.js'
import { obj } from '../wire/validate.js'

/**
 * A peer's presence as the node believes it: the state the peer put in its own
 * awareness, with `peer` its authenticated peer id and `caps` / `load` (when
 * present) validated. Other fields are the peer's own, unchecked.
 */
export type Presence = Record<string, unknown> & { peer: string; caps?: Capabilities; load?: Load }

/** One entry of a y-protocols awareness update. */
export interface AwarenessEntry {
  clientID: number
  clock: number
  /** The state as JSON text; `null` removes the client. */
  json: string
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Decodes a y-protocols awareness update (`count`, then per client: id, clock,
 * state as a JSON string) without applying it. At most `maxEntries` entries,
 * each state at most `maxStateBytes`; anything else is a ProtocolError.
 */
export function readAwarenessUpdate(payload: Uint8Array, maxEntries: number, maxStateBytes: number): AwarenessEntry[] {
  try {
    const d = decoding.createDecoder(payload)
    const n = decoding.readVarUint(d)
    if (n > maxEntries) throw new ProtocolError(`awareness update with ${n} states (at most ${maxEntries})`)
    const out: AwarenessEntry[] = []
    for (let i = 0; i < n; i++) {
      const clientID = decoding.readVarUint(d)
      const clock = decoding.readVarUint(d)
      const len = decoding.readVarUint(d)
      if (len > maxStateBytes) throw new ProtocolError(`awareness state of ${len} bytes (at most ${maxStateBytes})`)
      out.push({ clientID, clock, json: utf8.decode(decoding.readUint8Array(d, len)) })
    }
    if (decoding.hasContent(d)) throw new ProtocolError('bytes after the awareness update')
    return out
  } catch (err) {
    if (err instanceof ProtocolError) throw err
    throw new ProtocolError(`malformed awareness update: ${(err as Error).message}`)
  }
}

/**
 * The presence in an awareness state sent by `sender` over its own session:
 * undefined for a removal (`null`) or a state that names no peer (an app's own
 * awareness, not presence); else an object whose `peer` is `sender`, with
 * `caps` and `load` validated when present. A state that claims another peer
 * id, or carries malformed capabilities or load, is a ProtocolError.
 */
export function parsePresence(state: unknown, sender: string): Presence | undefined {
  if (state === null) return undefined
  const s = obj(state, 'awareness state')
  if (s.peer !== undefined && s.peer !== sender)
    throw new ProtocolError(`presence claims peer ${String(s.peer).slice(0, 80)}, not its sender`)
  const caps = s.caps === undefined ? undefined : parseCapabilities(s.caps)
  const load = s.load === undefined ? undefined : parseLoad(s.load)
  if (s.peer === undefined) return undefined
  const out: Presence = { ...s, peer: sender }
  if (caps) out.caps = caps
  if (load) out.load = load
  return out
}

/** Parses one entry's JSON text; invalid JSON is a ProtocolError. */
export function entryState(e: AwarenessEntry): unknown {
  try {
    return JSON.parse(e.json)
  } catch {
    throw new ProtocolError('awareness state is not JSON')
  }
}

/**
 * Checks an awareness update from `sender` before it is applied: it may speak
 * for one client only, the same for the whole session (`current`, once known),
 * never one in `taken` (this node's own, other peers'), and its state must be
 * `sender`'s own valid presence. Returns the client it speaks for; anything
 * else is a ProtocolError.
 */
export function checkAwareness(
  payload: Uint8Array,
  sender: string,
  current: number | undefined,
  taken: ReadonlySet<number>,
  maxStateBytes: number,
): number | undefined {
  let client = current
  for (const e of readAwarenessUpdate(payload, 1, maxStateBytes)) {
    if (taken.has(e.clientID)) throw new ProtocolError("awareness for another peer's client")
    client ??= e.clientID
    if (e.clientID !== client) throw new ProtocolError('awareness for a second client')
    parsePresence(entryState(e), sender)
  }
  return client
}
