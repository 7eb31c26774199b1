// Fuzz targets of the state protocol's message codec (core/state/messages.ts).
import fc from 'fast-check'
import { decodeStateMessage, encodeStateMessage, type StateMessage } from 'peercompute'
import { ensure, target, typedOnly } from '../harness.ts'
import { canonical, hostileBytes } from '../mutate.ts'
import { boundedString, record } from '../strings.ts'

const utf8 = new TextEncoder()

/** Every state message the decoder accepts: a room of at most 255 UTF-8 bytes, a proof of at most 64. */
export const stateMessage: fc.Arbitrary<StateMessage> = fc.oneof(
  record({
    kind: fc.constant('join' as const),
    room: boundedString(255, { wellFormed: true }).filter((r) => utf8.encode(r).length <= 255),
    proof: fc.uint8Array({ maxLength: 64 }),
  }),
  record({ kind: fc.constantFrom('sync' as const, 'awareness' as const), payload: fc.uint8Array({ maxLength: 512 }) }),
)

/** decodeStateMessage on hostile bytes: only ProtocolError; what it accepts survives a re-encoding unchanged. */
export const stateMessageDecode = target({
  name: 'state.message.decode',
  arbitrary: hostileBytes(stateMessage.map(encodeStateMessage), 512),
  check(bytes) {
    const m = typedOnly(() => decodeStateMessage(bytes))
    if (!m) return
    const again = typedOnly(() => decodeStateMessage(encodeStateMessage(m)))
    ensure(canonical(again) === canonical(m), () => `re-encoding changed ${canonical(m)}`)
  },
})

/** decode(encode(m)) equals m for every valid state message. */
export const stateMessageRoundTrip = target({
  name: 'state.message.roundtrip',
  arbitrary: stateMessage,
  check(m) {
    const back = decodeStateMessage(encodeStateMessage(m))
    ensure(canonical(back) === canonical(m), () => `round trip changed ${canonical(m)} into ${canonical(back)}`)
  },
})
