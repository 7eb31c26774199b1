import { ProtocolError } from '../errors.js'

/** The state protocol: one Yjs document per room, synced between peers. */
export const STATE_PROTOCOL = '/peercompute/state/1.0.0'

/** A state message: join (room + membership proof), a y-protocols sync message, or an awareness update. */
export type StateMessage =
  | { kind: 'join'; room: string; proof: Uint8Array }
  | { kind: 'sync'; payload: Uint8Array }
  | { kind: 'awareness'; payload: Uint8Array }

const KINDS = { join: 0, sync: 1, awareness: 2 } as const
const enc = new TextEncoder()
const dec = new TextDecoder('utf-8', { fatal: true })

/** `kind byte | body`; join's body is `room length (u8) | room (UTF-8) | proof`. */
export function encodeStateMessage(m: StateMessage): Uint8Array {
  if (m.kind === 'join') {
    const room = enc.encode(m.room)
    if (room.length > 255) throw new RangeError('room names are at most 255 bytes')
    const out = new Uint8Array(2 + room.length + m.proof.length)
    out[0] = KINDS.join
    out[1] = room.length
    out.set(room, 2)
    out.set(m.proof, 2 + room.length)
    return out
  }
  const out = new Uint8Array(1 + m.payload.length)
  out[0] = KINDS[m.kind]
  out.set(m.payload, 1)
  return out
}

/** Decodes a reassembled message; anything malformed is a ProtocolError. */
export function decodeStateMessage(b: Uint8Array): StateMessage {
  if (b.length === 0) throw new ProtocolError('empty state message')
  switch (b[0]) {
    case KINDS.join: {
      if (b.length < 2 || b.length < 2 + b[1]) throw new ProtocolError('truncated join')
      let room: string
      try {
        room = dec.decode(b.subarray(2, 2 + b[1]))
      } catch {
        throw new ProtocolError('join room is not UTF-8')
      }
      const proof = b.slice(2 + b[1])
      if (proof.length > 64) throw new ProtocolError('join proof longer than 64 bytes')
      return { kind: 'join', room, proof }
    }
    case KINDS.sync:
      return { kind: 'sync', payload: b.subarray(1) }
    case KINDS.awareness:
      return { kind: 'awareness', payload: b.subarray(1) }
    default:
      throw new ProtocolError(`unknown state message kind ${b[0]}`)
  }
}
