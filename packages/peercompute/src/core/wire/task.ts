import { Uint8ArrayList } from 'uint8arraylist'
import { type ContentPin, isHttpDate, isStrongEtag } from '../compute/range-fetch.js'
import { ProtocolError } from '../errors.js'
import { concatBytes, encodeVarint, MAX_VARINT_BYTES, readVarint } from './frames.js'
import { int, num, obj, oneOf, parseJson, str } from './validate.js'

// The task protocol's messages as pure encode/decode functions (PROTOCOL.md,
// "task"). Every message is one frame payload of at most TASK_FRAME_MAX bytes:
// a type byte, the task id as a varint, then the type's body.

/** The task protocol: a submitter sends kernels to run over data; the executor answers with results. */
export const TASK_PROTOCOL = '/peercompute/task/1.0.0'
/**
 * Largest task frame payload (64 KiB: a map batch of 4,096 numbers is one
 * frame; libp2p's WebRTC streams cut what they send into data-channel messages
 * of their own size, so frames need not fit one).
 */
export const TASK_FRAME_MAX = 64 * 1024
/** Largest JSON header of a request or result. */
export const TASK_HEADER_MAX = 4096
/** Largest task id. */
export const TASK_ID_MAX = 0xffff_ffff

/** Where a task's input comes from. */
export type TaskSource =
  /** `length` bytes that follow the request in data frames (and in the request frame itself). */
  | { kind: 'inline'; length: number }
  /**
   * The executor fetches `length` bytes at `offset` with an HTTP Range request;
   * with `pin`, only from that version of the content (else `DataSourceError`).
   */
  | { kind: 'url'; url: string; offset: number; length: number; pin?: ContentPin }

/** Parameters of a built-in kernel (a registered kernel's are any JSON object). */
export interface TaskParams {
  imm?: number
  /** xor: the key, as hex. */
  key?: string
  /** crc32c: the running CRC; fnv64: the running state as a decimal string. */
  seed?: number | string
  [k: string]: unknown
}

/** The header of a request. */
export interface TaskRequestHeader {
  kernel: string
  params?: TaskParams
  source: TaskSource
  /** Milliseconds the submitter waits for the result; the executor counts them from the request frame. */
  deadlineMs: number
  /** `gpu`: run counteq/xor/add on WebGPU where the executor has it (the result is the same). */
  prefer?: 'cpu' | 'gpu'
}

/** What a result holds: a number, a 64-bit value (decimal), bytes that follow, or a JSON value. */
export type TaskResultHeader = (
  | { type: 'number'; value: number }
  | { type: 'bigint'; value: string }
  | { type: 'bytes'; length: number }
  | { type: 'json'; value: unknown }
) & {
  /** Time the kernel ran on the executor, ms (fetching the input included). */
  execMs: number
  substrate: 'cpu' | 'webgpu'
  /** For a URL source: the content's validator as the executor's response gave it (pins the job's other ranges). */
  validator?: ContentPin
}

/** Every task message. */
export type TaskMessage =
  | { type: 'request'; id: number; header: TaskRequestHeader; data: Uint8Array }
  | { type: 'data'; id: number; data: Uint8Array }
  | { type: 'cancel'; id: number }
  | { type: 'result'; id: number; header: TaskResultHeader; data: Uint8Array }
  | { type: 'error'; id: number; name: string; message: string }
  /** Executor → submitter, id 0, every second while the stream has tasks: the peer is alive. */
  | { type: 'alive'; id: number }

/** The type byte of each message. */
export const TASK_TYPES = { request: 1, data: 2, cancel: 3, result: 4, error: 5, alive: 6 } as const satisfies Record<
  TaskMessage['type'],
  number
>

const BY_CODE = new Map<number, TaskMessage['type']>(
  Object.entries(TASK_TYPES).map(([k, v]) => [v, k as TaskMessage['type']]),
)

const utf8 = new TextEncoder()

/** Bytes of data a frame of `type` can still carry after a header of `headerBytes`. */
export function dataRoom(headerBytes = 0): number {
  // type byte, id varint (≤ 5), header length varint (≤ 2 for ≤ 4 KiB)
  return TASK_FRAME_MAX - 1 - 5 - (headerBytes ? 2 + headerBytes : 0)
}

/** A message's bytes as parts (a type byte, the id, its body), their total checked against TASK_FRAME_MAX. */
function messageParts(m: TaskMessage, json?: Uint8Array): { parts: Uint8Array[]; size: number } {
  let body: Uint8Array[]
  switch (m.type) {
    case 'request':
    case 'result': {
      const head = json ?? utf8.encode(JSON.stringify(m.header))
      if (head.length > TASK_HEADER_MAX) throw new RangeError(`task header of ${head.length} bytes is too large`)
      body = [encodeVarint(head.length), head, m.data]
      break
    }
    case 'data':
      body = [m.data]
      break
    case 'cancel':
    case 'alive':
      body = []
      break
    case 'error':
      body = [utf8.encode(JSON.stringify({ name: m.name, message: m.message.slice(0, 1024) }))]
      break
  }
  const parts = [Uint8Array.of(TASK_TYPES[m.type]), encodeVarint(m.id), ...body]
  let size = 0
  for (const p of parts) size += p.length
  if (size > TASK_FRAME_MAX) throw new RangeError(`task frame of ${size} bytes exceeds ${TASK_FRAME_MAX}`)
  return { parts, size }
}

/** Encodes a message as one frame payload; throws `RangeError` if it would exceed TASK_FRAME_MAX. */
export function encodeTaskMessage(m: TaskMessage): Uint8Array {
  return concatBytes(messageParts(m).parts)
}

/**
 * Most bytes of frames `taskFrames` puts in one write, and that a task stream's
 * CorkedWriter gathers into one send: one muxer message (noise still cuts a
 * send past 65,519 bytes into two encrypted messages).
 */
export const TASK_WRITE_BYTES = 64 * 1024

/**
 * A request or result with `data` of any length, as frames ready to write:
 * the first frame carries the header and as much data as fits, data frames
 * carry the rest. Frames are grouped into writes of about TASK_WRITE_BYTES,
 * each a run of whole frames (varint length, message). The data is not
 * copied: a write is a list of each frame's small head and a view of its
 * data (libp2p's muxer and noise encrypt such a list part by part), so
 * `data` must not change until it is written.
 */
export function taskFrames(
  m:
    | { type: 'request'; id: number; header: TaskRequestHeader }
    | { type: 'result'; id: number; header: TaskResultHeader },
  data: Uint8Array,
): Uint8ArrayList[] {
  const json = utf8.encode(JSON.stringify(m.header))
  const first = Math.min(data.length, dataRoom(json.length))
  const messages: Array<{ parts: Uint8Array[]; size: number }> = [
    messageParts({ ...m, data: data.subarray(0, first) } as TaskMessage, json),
  ]
  for (let off = first; off < data.length; off += dataRoom())
    messages.push(messageParts({ type: 'data', id: m.id, data: data.subarray(off, off + dataRoom()) }))
  const out: Uint8ArrayList[] = []
  for (let i = 0; i < messages.length; ) {
    const write = new Uint8ArrayList()
    let bytes = 0
    do {
      const { parts, size } = messages[i++]
      // the message's data is its last part: the head before it is copied, the data is not
      write.append(concatBytes([encodeVarint(size), ...parts.slice(0, -1)]))
      const body = parts[parts.length - 1]
      if (body.length > 0) write.append(body)
      bytes += MAX_VARINT_BYTES + size
    } while (i < messages.length && bytes + MAX_VARINT_BYTES + messages[i].size <= TASK_WRITE_BYTES)
    out.push(write)
  }
  return out
}

/**
 * Decodes one frame payload. A frame that cannot be read at all is a
 * `ProtocolError` with `taskId` undefined; one whose id was read but whose body
 * is bad carries that `taskId`, so the executor can fail just that task.
 */
export function decodeTaskMessage(p: Uint8Array): TaskMessage {
  if (p.length === 0) throw new ProtocolError('empty task frame')
  if (p.length > TASK_FRAME_MAX) throw new ProtocolError(`task frame of ${p.length} bytes exceeds ${TASK_FRAME_MAX}`)
  const type = BY_CODE.get(p[0])
  if (!type) throw new ProtocolError(`unknown task message type ${p[0]}`)
  const [id, at] = varintAt(p, 1)
  if (id > TASK_ID_MAX) throw new ProtocolError(`task id ${id} out of range`)
  try {
    switch (type) {
      case 'request':
      case 'result': {
        const [hlen, start] = varintAt(p, at)
        if (hlen > TASK_HEADER_MAX || start + hlen > p.length) throw new ProtocolError(`bad header length ${hlen}`)
        const json = obj(parseJson(p.subarray(start, start + hlen), `${type} header`), `${type} header`)
        const data = p.subarray(start + hlen)
        return type === 'request'
          ? { type, id, header: requestHeader(json), data }
          : { type, id, header: resultHeader(json, data.length), data }
      }
      case 'data':
        return { type, id, data: p.subarray(at) }
      case 'cancel':
      case 'alive':
        if (at !== p.length) throw new ProtocolError(`${type} carries no body`)
        return { type, id }
      case 'error': {
        const e = obj(parseJson(p.subarray(at), 'error'), 'error')
        return { type, id, name: str(e.name, 'error.name', 64), message: str(e.message, 'error.message', 1024) }
      }
    }
  } catch (err) {
    throw Object.assign(err as Error, { taskId: id })
  }
}

const MAX_LENGTH = 2 ** 40

function requestHeader(h: Record<string, unknown>): TaskRequestHeader {
  const s = obj(h.source, 'source')
  const kind = oneOf(s.kind, 'source.kind', ['inline', 'url'] as const)
  const length = int(s.length, 'source.length', 0, MAX_LENGTH)
  let source: TaskSource
  if (kind === 'inline') source = { kind, length }
  else {
    const url = str(s.url, 'source.url', 2048)
    source = { kind, url, offset: int(s.offset, 'source.offset', 0, MAX_LENGTH), length }
    if (s.pin !== undefined) source.pin = readPin(s.pin, 'source.pin')
  }
  const out: TaskRequestHeader = {
    kernel: str(h.kernel, 'kernel', 64),
    source,
    deadlineMs: int(h.deadlineMs, 'deadlineMs', 1, 7 * 24 * 3600 * 1000),
  }
  if (h.prefer !== undefined) out.prefer = oneOf(h.prefer, 'prefer', ['cpu', 'gpu'] as const)
  if (h.params !== undefined) {
    const p = obj(h.params, 'params') as TaskParams
    if (p.imm !== undefined) int(p.imm, 'params.imm', 0, 255)
    if (p.key !== undefined && !/^([0-9a-f]{2}){1,1024}$/.test(str(p.key, 'params.key', 2048)))
      throw new ProtocolError('params.key must be 1 to 1024 bytes of lower-case hex')
    if (p.seed !== undefined && typeof p.seed === 'string' && !/^[0-9]{1,20}$/.test(p.seed))
      throw new ProtocolError('params.seed must be a decimal string of up to 20 digits')
    if (p.seed !== undefined && typeof p.seed !== 'string') int(p.seed, 'params.seed', 0, 0xffff_ffff)
    out.params = p
  }
  return out
}

/** Longest ETag (quotes included) and Last-Modified a pin may carry. */
export const PIN_ETAG_MAX = 256
export const PIN_DATE_MAX = 64

/** A content pin or validator: a strong ETag and/or an HTTP date, at least one, nothing else. */
function readPin(v: unknown, what: string): ContentPin {
  const p = obj(v, what)
  for (const k of Object.keys(p))
    if (k !== 'etag' && k !== 'lastModified') throw new ProtocolError(`${what} has an unknown field ${k.slice(0, 32)}`)
  const out: ContentPin = {}
  if (p.etag !== undefined) {
    const etag = str(p.etag, `${what}.etag`, PIN_ETAG_MAX)
    if (!isStrongEtag(etag)) throw new ProtocolError(`${what}.etag must be a strong entity tag ("…", printable ASCII)`)
    out.etag = etag
  }
  if (p.lastModified !== undefined) {
    const lm = str(p.lastModified, `${what}.lastModified`, PIN_DATE_MAX)
    if (!isHttpDate(lm)) throw new ProtocolError(`${what}.lastModified must be an HTTP date`)
    out.lastModified = lm
  }
  if (out.etag === undefined && out.lastModified === undefined)
    throw new ProtocolError(`${what} must have an etag or a lastModified`)
  return out
}

function resultHeader(h: Record<string, unknown>, carried: number): TaskResultHeader {
  const r = resultBody(h, carried)
  if (h.validator !== undefined) r.validator = readPin(h.validator, 'result.validator')
  return r
}

function resultBody(h: Record<string, unknown>, carried: number): TaskResultHeader {
  const type = oneOf(h.type, 'result.type', ['number', 'bigint', 'bytes', 'json'] as const)
  const execMs = num(h.execMs, 'result.execMs', 0, 1e9)
  const substrate = oneOf(h.substrate, 'result.substrate', ['cpu', 'webgpu'] as const)
  switch (type) {
    case 'number':
      return { type, value: num(h.value, 'result.value', -(2 ** 53), 2 ** 53), execMs, substrate }
    case 'bigint': {
      const value = str(h.value, 'result.value', 40)
      if (!/^-?[0-9]+$/.test(value)) throw new ProtocolError('result.value must be a decimal integer')
      return { type, value, execMs, substrate }
    }
    case 'bytes': {
      const length = int(h.length, 'result.length', 0, MAX_LENGTH)
      if (carried > length) throw new ProtocolError('result carries more bytes than its length')
      return { type, length, execMs, substrate }
    }
    case 'json':
      return { type, value: h.value, execMs, substrate }
  }
}

function varintAt(p: Uint8Array, at: number): [number, number] {
  const v = readVarint(p, at)
  if (typeof v === 'string') throw new ProtocolError('bad varint in task frame')
  return [v.value, v.end]
}

/** Hex of `bytes` (keys travel as hex in headers). */
export function toHex(bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += b.toString(16).padStart(2, '0')
  return s
}

/** Bytes of a lower-case hex string. */
export function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16)
  return out
}
