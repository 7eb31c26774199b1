// Fuzz targets of the registry protocol (core/wire/registry.ts).
import { isDeepStrictEqual } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import fc from 'fast-check'
import {
  decodeRegistryMessage,
  encodeRegistryMessage,
  GATEWAY_KINDS,
  PRICE_MODELS,
  REGISTRY_TYPES,
  type RegistryMessage,
  SUBSTRATES,
  TRANSPORTS,
} from 'peercompute'
import { ensure, target, typedOnly } from '../harness.ts'
import { bytesOf, concat, editJson, hostileBytes, jsonEdit } from '../mutate.ts'
import { boundedString, record } from '../strings.ts'

const num = (max: number) => fc.double({ min: 0, max, noNaN: true, noDefaultInfinity: true })
const int = (max: number) => fc.integer({ min: 0, max })

const gateway = record({
  kind: fc.constantFrom(...GATEWAY_KINDS),
  latencyMs: num(3.6e6),
  payloadBytes: int(2 ** 40),
  maxDurationS: num(86_400),
  concurrency: fc.integer({ min: 1, max: 4096 }),
  memoryMb: int(16 * 1024 * 1024),
})

const caps = record(
  {
    cores: int(4096),
    memoryMb: int(16 * 1024 * 1024),
    gpu: fc.boolean(),
    kernels: fc.array(boundedString(64), { maxLength: 64 }),
    substrate: fc.constantFrom(...SUBSTRATES),
    price: record({ model: fc.constantFrom(...PRICE_MODELS), usd: num(1e6) }),
    gateway,
  },
  { requiredKeys: ['cores', 'memoryMb', 'gpu', 'kernels', 'substrate', 'price'] },
)

const load = record(
  {
    running: int(1e9),
    queued: int(1e9),
    metrics: record({ ok: int(1e15), failed: int(1e15), bytes: num(1e18), costUsd: num(1e12) }),
  },
  { requiredKeys: ['running', 'queued'] },
)

/** Peer ids (fixed: making keys is slow, and which ids they are does not matter). */
const PEER_IDS = [
  '12D3KooWEfmTxx7CynBTcRedahFmsUmhkYg4MaPpVnjKQ33Lo9VB',
  '12D3KooWSMvK1YjPMSfLDpuXVbXmoHmxiVp2pkigtzwUjTTta75C',
  '12D3KooWPCenZybcFMc8YieveD3Qna6XSem13YN3kHNCZ7DWKLZ8',
  '12D3KooWJxZBo9EnXb16SSBhw6bdSYPsBZiPMoBYKD2cfvcperun',
]
const peerId = fc.constantFrom(...PEER_IDS)
const isPeerId = (s: string) => PEER_IDS.includes(s)

/** Multiaddrs a peer may announce, in canonical text, without a peer id of their own at the end. */
const TRANSPORT_ADDRS = fc.sample(
  fc
    .tuple(
      fc.oneof(
        fc
          .tuple(fc.nat(255), fc.nat(255), fc.integer({ min: 1, max: 65535 }))
          .map(([a, b, p]) => `/ip4/10.${a}.0.${b}/tcp/${p}`),
        fc.tuple(fc.nat(255), fc.integer({ min: 1, max: 65535 })).map(([a, p]) => `/ip4/203.0.113.${a}/tcp/${p}/ws`),
        fc.integer({ min: 1, max: 65535 }).map((p) => `/ip6/::1/tcp/${p}/ws`),
        fc.nat(99).map((n) => `/dns4/relay${n}.example.com/tcp/443/wss`),
      ),
      fc.option(fc.constantFrom(...PEER_IDS)),
    )
    .map(([t, relay]) => multiaddr(`${t}${relay ? `/p2p/${relay}/p2p-circuit` : ''}`).toString()),
  { numRuns: 64, seed: 42 },
)

/**
 * A canonical multiaddr ending in `/p2p/<owner>`, or a direct one ending in no
 * peer id (a circuit address names its owner last, as libp2p announces it).
 */
function address(owner: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .tuple(fc.constantFrom(...TRANSPORT_ADDRS), fc.option(owner))
    .filter(([t, own]) => own !== null || !t.endsWith('/p2p-circuit'))
    .map(([t, own]) => (own ? `${t}/p2p/${own}` : t))
}

/** Registry messages built from these address lists and peer ids, within every limit the decoder checks. */
function messages(
  addrsOf: (owner: fc.Arbitrary<string>) => fc.Arbitrary<string[]>,
  id: fc.Arbitrary<string>,
): fc.Arbitrary<RegistryMessage> {
  const peer = id.chain((own) => record({ id: fc.constant(own), addrs: addrsOf(fc.constant(own)), caps, load }))
  const link = record(
    { peer: id, transport: fc.constantFrom(...TRANSPORTS), rttMs: num(3.6e6) },
    { requiredKeys: ['peer', 'transport'] },
  )
  return fc.oneof(
    record({ type: fc.constant('announce' as const), addrs: addrsOf(peerId), caps, load }),
    record({ type: fc.constant('heartbeat' as const), load }),
    record({ type: fc.constant('subscribe' as const) }),
    record({ type: fc.constantFrom('join' as const, 'update' as const), peer }),
    record({ type: fc.constant('leave' as const), id }),
    record({ type: fc.constant('mesh' as const), links: fc.array(link, { maxLength: 256 }) }),
    record({ type: fc.constant('error' as const), code: boundedString(64), message: boundedString(1024) }),
  )
}

/** Every registry message, valid in every field: real peer ids, distinct canonical addresses. */
export const registryMessage = messages((owner) => fc.uniqueArray(address(owner), { maxLength: 32 }), peerId)

/** Registry messages of the right shape with any strings as addresses and ids (for the decoder to sort out). */
const looseMessage = messages(
  (owner) =>
    fc.array(fc.oneof(address(fc.oneof(owner, peerId).filter(isPeerId)), boundedString(512)), { maxLength: 32 }),
  fc.oneof(peerId, boundedString(128)),
)

/** The encoding, or undefined where the message is over the frame limit (the encoder's RangeError). */
function encoded(m: RegistryMessage): Uint8Array | undefined {
  try {
    return encodeRegistryMessage(m)
  } catch (err) {
    if (err instanceof RangeError) return undefined
    throw err
  }
}

const validBytes = looseMessage.map((m) => encoded(m) ?? Uint8Array.of(REGISTRY_TYPES.subscribe, 0x7b, 0x7d))

// a message's body with fields broken, under its own type byte or another one
const editedBodies = fc
  .tuple(
    looseMessage,
    fc.option(fc.integer({ min: 0, max: 9 }), { freq: 4 }),
    fc.array(jsonEdit, { minLength: 1, maxLength: 3 }),
  )
  .map(([{ type, ...body }, otherType, edits]) =>
    concat(Uint8Array.of(otherType ?? REGISTRY_TYPES[type]), bytesOf(editJson(body, edits))),
  )

/** decodeRegistryMessage on hostile payloads: only ProtocolError; what it accepts survives a re-encoding unchanged. */
export const registryDecode = target({
  name: 'registry.decode',
  arbitrary: fc.oneof(hostileBytes(validBytes, 512), editedBodies),
  check(payload) {
    const m = typedOnly(() => decodeRegistryMessage(payload))
    if (!m) return
    const again = encoded(m)
    if (!again) return
    // equal as JSON: what travels (-0 and 0 are one number on the wire)
    const m2 = typedOnly(() => decodeRegistryMessage(again))
    ensure(JSON.stringify(m2) === JSON.stringify(m), () => `re-encoding changed the message: ${JSON.stringify(m)}`)
  },
})

/** decode(encode(m)) equals m for every valid registry message. */
export const registryRoundTrip = target({
  name: 'registry.roundtrip',
  arbitrary: registryMessage,
  check(m) {
    const bytes = encoded(m)
    if (!bytes) return
    const back = decodeRegistryMessage(bytes)
    ensure(isDeepStrictEqual(back, m), () => `round trip changed ${JSON.stringify(m)} into ${JSON.stringify(back)}`)
  },
})
