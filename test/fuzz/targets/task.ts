// Fuzz targets of the task protocol (core/wire/task.ts).
import fc from 'fast-check'
import {
  decodeTaskMessage,
  encodeTaskMessage,
  ProtocolError,
  TASK_FRAME_MAX,
  TASK_TYPES,
  type TaskWireMessage,
} from 'peercompute'
import { ensure, FuzzFailure, target } from '../harness.ts'
import { bytesOf, canonical, concat, editJson, hostileBytes, jsonEdit, varint } from '../mutate.ts'
import { boundedString, record } from '../strings.ts'

const MAX_LENGTH = 2 ** 40
const id = fc.oneof(fc.nat({ max: 1000 }), fc.integer({ min: 0, max: 0xffff_ffff }))
const bytes = (maxLength: number) => fc.uint8Array({ maxLength })
const hex = fc.uint8Array({ minLength: 1, maxLength: 1024 }).map((b) => Buffer.from(b).toString('hex'))

// a registered kernel's parameters are any JSON object; imm, key and seed are the built-ins' and checked
const otherParams = fc.dictionary(
  fc.string({ maxLength: 8 }).filter((k) => !['imm', 'key', 'seed'].includes(k)),
  fc.jsonValue({ maxDepth: 2 }),
  { maxKeys: 4, noNullPrototype: true },
)
const params = fc
  .tuple(
    record(
      {
        imm: fc.integer({ min: 0, max: 255 }),
        key: hex,
        seed: fc.oneof(fc.integer({ min: 0, max: 0xffff_ffff }), fc.stringMatching(/^[0-9]{1,20}$/)),
      },
      { requiredKeys: [] },
    ),
    otherParams,
  )
  .map(([builtIn, other]) => ({ ...other, ...builtIn }))

const source = fc.oneof(
  record({ kind: fc.constant('inline' as const), length: fc.integer({ min: 0, max: MAX_LENGTH }) }),
  record({
    kind: fc.constant('url' as const),
    url: boundedString(2048),
    offset: fc.integer({ min: 0, max: MAX_LENGTH }),
    length: fc.integer({ min: 0, max: MAX_LENGTH }),
  }),
)

const requestHeader = record(
  {
    kernel: boundedString(64),
    params,
    source,
    deadlineMs: fc.integer({ min: 1, max: 7 * 24 * 3600 * 1000 }),
    prefer: fc.constantFrom('cpu' as const, 'gpu' as const),
  },
  { requiredKeys: ['kernel', 'source', 'deadlineMs'] },
)

const timing = { execMs: fc.double({ min: 0, max: 1e9, noNaN: true }), substrate: fc.constantFrom('cpu', 'webgpu') }
const resultHeader = fc.oneof(
  record({
    type: fc.constant('number'),
    value: fc.double({ min: -(2 ** 53), max: 2 ** 53, noNaN: true }),
    ...timing,
  }),
  record({ type: fc.constant('bigint'), value: fc.stringMatching(/^-?[0-9]{1,39}$/), ...timing }),
  record({ type: fc.constant('bytes'), length: fc.integer({ min: 16 * 1024, max: MAX_LENGTH }), ...timing }),
  record({ type: fc.constant('json'), value: fc.jsonValue({ maxDepth: 3 }), ...timing }),
)

/** Every task message, within every limit the decoder checks (some may be over the frame size: see `encoded`). */
export const taskMessage = fc.oneof(
  record({ type: fc.constant('request'), id, header: requestHeader, data: bytes(2048) }),
  record({ type: fc.constant('data'), id, data: bytes(TASK_FRAME_MAX - 6) }),
  record({ type: fc.constantFrom('cancel', 'alive'), id }),
  record({ type: fc.constant('result'), id, header: resultHeader, data: bytes(2048) }),
  record({ type: fc.constant('error'), id, name: boundedString(64), message: boundedString(1024) }),
) as fc.Arbitrary<TaskWireMessage>

/** The encoding, or undefined where the message is over a size limit (the encoder's RangeError). */
function encoded(m: TaskWireMessage): Uint8Array | undefined {
  try {
    return encodeTaskMessage(m)
  } catch (err) {
    if (err instanceof RangeError) return undefined
    throw err
  }
}

const validBytes = taskMessage.map((m) => encoded(m) ?? Uint8Array.of(TASK_TYPES.cancel, 7))

// a request, result or error frame whose JSON is broken, under its own type byte or another one
const editedFrames = fc
  .tuple(
    taskMessage.filter((m) => m.type === 'request' || m.type === 'result' || m.type === 'error'),
    fc.option(fc.integer({ min: 0, max: 7 }), { freq: 5 }),
    fc.array(jsonEdit, { minLength: 1, maxLength: 3 }),
  )
  .map(([m, otherType, edits]) => {
    const type = Uint8Array.of(otherType ?? TASK_TYPES[m.type])
    if (m.type === 'error')
      return concat(type, varint(m.id), bytesOf(editJson({ name: m.name, message: m.message }, edits)))
    if (m.type !== 'request' && m.type !== 'result') throw new Error('unreachable')
    const json = bytesOf(editJson(m.header, edits))
    return concat(type, varint(m.id), varint(json.length), json, m.data)
  })

/** Decodes, allowing only ProtocolError (and the `taskId` it documents, when the id was read). */
function decode(p: Uint8Array): TaskWireMessage | undefined {
  try {
    return decodeTaskMessage(p)
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw new FuzzFailure(`untyped error: ${(err as Error)?.stack ?? err}`)
    const taskId = (err as { taskId?: unknown }).taskId
    ensure(
      taskId === undefined ||
        (Number.isInteger(taskId) && (taskId as number) >= 0 && (taskId as number) <= 0xffff_ffff),
      `ProtocolError with a bad taskId ${String(taskId)}`,
    )
    return undefined
  }
}

/** The decoded message as canonical text: sorted keys, the data as hex (what a round trip must keep). */
function show(m: TaskWireMessage | undefined): string {
  return canonical(m)
}

/** decodeTaskMessage on hostile frames: only ProtocolError; what it accepts survives a re-encoding unchanged. */
export const taskDecode = target({
  name: 'task.decode',
  arbitrary: fc.oneof(hostileBytes(validBytes, 512), editedFrames),
  check(frame) {
    const m = decode(frame)
    if (!m) return
    if (m.type === 'result' && m.header.type === 'bytes')
      ensure(m.data.length <= m.header.length, 'a result carries more bytes than its length')
    const again = encoded(m)
    if (!again) return
    const m2 = decode(again)
    ensure(show(m2) === show(m), () => `re-encoding changed the message: ${show(m)} -> ${show(m2)}`)
  },
})

/** decode(encode(m)) equals m for every valid task message. */
export const taskRoundTrip = target({
  name: 'task.roundtrip',
  arbitrary: taskMessage,
  check(m) {
    const bytes = encoded(m)
    if (!bytes) return
    const back = decodeTaskMessage(bytes)
    ensure(show(back) === show(m), () => `round trip changed ${show(m)} into ${show(back)}`)
  },
})
