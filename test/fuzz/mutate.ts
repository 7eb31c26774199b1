// Structure-aware input generators: valid messages broken a little (bit flips,
// truncation, extension, splices), JSON bodies with fields of the wrong type,
// huge numbers, long strings and deep nesting, and raw random bytes.
import fc from 'fast-check'

/** One edit of a byte string; positions are taken modulo the length, so any edit applies to any input. */
export type ByteEdit =
  | { op: 'flip'; at: number; bit: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'truncate'; at: number }
  | { op: 'extend'; bytes: Uint8Array }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; count: number }

/** A single byte edit. */
export const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('set' as const),
      at: fc.nat(),
      value: fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0xff, 0x22, 0x5c, 0x7b, 0x5b),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('extend' as const), bytes: fc.uint8Array({ maxLength: 64 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 16 }) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), at: fc.nat(), count: fc.nat({ max: 16 }) }) },
)

/** `b` with `edits` applied in order (a new array; `b` is not changed). */
export function applyEdits(b: Uint8Array, edits: readonly ByteEdit[]): Uint8Array {
  let out: Uint8Array = b.slice()
  for (const e of edits) {
    const at = out.length === 0 ? 0 : ('at' in e ? e.at : 0) % out.length
    switch (e.op) {
      case 'flip':
        if (out.length) out[at] ^= 1 << e.bit
        break
      case 'set':
        if (out.length) out[at] = e.value
        break
      case 'truncate':
        out = out.slice(0, at)
        break
      case 'extend':
        out = concat(out, e.bytes)
        break
      case 'insert':
        out = concat(out.subarray(0, at), e.bytes, out.subarray(at))
        break
      case 'delete':
        out = concat(out.subarray(0, at), out.subarray(at + e.count))
        break
    }
  }
  return out
}

/** Valid encodings from `valid`, each with one to four byte edits. */
export function mutated(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.tuple(valid, fc.array(byteEdit, { minLength: 1, maxLength: 4 })).map(([b, edits]) => applyEdits(b, edits))
}

/** Inputs for a byte decoder: valid encodings, mutated ones, and raw random bytes. */
export function hostileBytes(valid: fc.Arbitrary<Uint8Array>, maxRaw = 256): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 1, arbitrary: valid },
    { weight: 5, arbitrary: mutated(valid) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: maxRaw }) },
  )
}

/** Text to splice into JSON as it is (a number past double range, deep nesting, ...). */
class RawJson {
  readonly text: string
  constructor(text: string) {
    this.text = text
  }
}

/** Raw JSON text that no JS value stringifies to: numbers past double range, deep nesting, bad escapes, duplicate keys. */
const RAW_JSON = [
  '1e999',
  '-1e999',
  '-0',
  '1E-400',
  '9007199254740993',
  '18446744073709551616',
  '1.0000000000000002',
  '0.1e1',
  '"\\ud800"',
  '"\\udc00\\ud800"',
  '"\\u0000"',
  '{"a":1,"a":"b"}',
  '{"__proto__":{"polluted":true}}',
  `${'['.repeat(5000)}${']'.repeat(5000)}`,
  `${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}`,
  '['.repeat(100_000),
]

/** String lengths just past the decoders' limits, and far past them. */
const LONG = [33, 65, 129, 257, 513, 1025, 2049, 4097, 16_385, 70_000]

/** A value that replaces a field: wrong types, edge numbers, long strings and arrays, deep nesting. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  {
    weight: 3,
    arbitrary: fc.constantFrom<unknown>(
      null,
      true,
      false,
      0,
      -1,
      0.5,
      -0.5,
      255,
      256,
      4096,
      4097,
      2 ** 31,
      2 ** 32,
      2 ** 32 - 1,
      2 ** 40,
      2 ** 40 + 1,
      2 ** 53,
      2 ** 53 + 2,
      2 ** 64,
      -(2 ** 53),
      Number.MAX_VALUE,
      -Number.MAX_VALUE,
      Number.MIN_VALUE,
      '',
      '0',
      '-1',
      'NaN',
      'Infinity',
      '00',
      '0x10',
      [],
      {},
      [null],
      { length: 1 },
      // content pins (task sources and results), valid and nearly so
      { etag: '"abc"' },
      { etag: 'W/"abc"' },
      { lastModified: 'Sun, 06 Nov 1994 08:49:37 GMT' },
      { etag: '"a"', lastModified: 'not a date' },
      { etag: '"a"', extra: 1 },
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom(...LONG.map((n) => 'x'.repeat(n))) },
  { weight: 1, arbitrary: fc.constantFrom(...[33, 65, 257, 1000].map((n) => Array.from({ length: n }, (_, i) => i))) },
  { weight: 1, arbitrary: fc.constantFrom(1, 2, 16, 64, 1000).map(nested) },
  { weight: 2, arbitrary: fc.nat({ max: RAW_JSON.length - 1 }).map((i) => new RawJson(RAW_JSON[i])) },
)

/** Keys worth adding to an object: prototype names, and fields of other messages (and of newer versions). */
const KEYS = [
  '__proto__',
  'constructor',
  'toString',
  'type',
  'length',
  'value',
  'id',
  'metrics',
  'rttMs',
  'params',
  'pin',
  'validator',
  'etag',
  'lastModified',
]

/** One edit of a JSON value at a path picked by `pick` among all its nodes. */
export interface JsonEdit {
  pick: number
  op: 'replace' | 'delete' | 'add'
  key: string
  value: unknown
}

/** A JSON edit. */
export const jsonEdit: fc.Arbitrary<JsonEdit> = fc.record({
  pick: fc.nat(),
  op: fc.constantFrom('replace' as const, 'replace' as const, 'delete' as const, 'add' as const),
  key: fc.oneof(fc.constantFrom(...KEYS), fc.string({ maxLength: 8 })),
  value: hostileValue,
})

/** JSON text of `base` with `edits` applied (`base` is not changed). */
export function editJson(base: unknown, edits: readonly JsonEdit[]): string {
  let root: unknown = structuredClone(base)
  for (const e of edits) {
    const nodes: { parent?: Record<string, unknown> | unknown[]; key?: string | number; value: unknown }[] = []
    walk(root, undefined, undefined, nodes)
    const n = nodes[e.pick % nodes.length]
    // a copy: a later edit may add to it, and fast-check replays the same value when shrinking
    const value = e.value instanceof RawJson ? e.value : structuredClone(e.value)
    if (e.op === 'add' && isContainer(n.value)) {
      if (Array.isArray(n.value)) n.value.push(value)
      else Object.defineProperty(n.value, e.key, { value, enumerable: true, writable: true, configurable: true })
    } else if (e.op === 'delete' && n.parent) {
      if (Array.isArray(n.parent)) n.parent.splice(n.key as number, 1)
      else delete n.parent[n.key as string]
    } else if (n.parent) {
      Object.defineProperty(n.parent, n.key as string | number, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      })
    } else {
      root = value
    }
  }
  const raws: string[] = []
  const text = JSON.stringify(root, (_k, v) => {
    if (v instanceof RawJson) {
      raws.push(v.text)
      return `\u0000RAW${raws.length - 1}\u0000`
    }
    return v
  })
  return (text ?? 'null').replace(/"\\u0000RAW(\d+)\\u0000"/g, (_m, i: string) => raws[Number(i)])
}

/** Valid JSON values from `valid`, as text with one to three edits. */
export function editedJson(valid: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  return fc.tuple(valid, fc.array(jsonEdit, { minLength: 1, maxLength: 3 })).map(([v, edits]) => editJson(v, edits))
}

const utf8 = new TextEncoder()

/** UTF-8 bytes of `s`. */
export function bytesOf(s: string): Uint8Array {
  return utf8.encode(s)
}

/** The parts, one after another. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

/** Splits `b` into consecutive chunks at the given cut points (taken modulo its length). */
export function chunked(b: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const at = [...new Set(cuts.map((c) => (b.length ? c % (b.length + 1) : 0)))].sort((x, y) => x - y)
  const out: Uint8Array[] = []
  let prev = 0
  for (const c of [...at, b.length]) {
    out.push(b.subarray(prev, c))
    prev = c
  }
  return out
}

function nested(depth: number): unknown {
  let v: unknown = 1
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v }
  return v
}

function isContainer(v: unknown): v is Record<string, unknown> | unknown[] {
  return typeof v === 'object' && v !== null && !(v instanceof RawJson)
}

function walk(
  v: unknown,
  parent: Record<string, unknown> | unknown[] | undefined,
  key: string | number | undefined,
  out: { parent?: Record<string, unknown> | unknown[]; key?: string | number; value: unknown }[],
): void {
  out.push({ parent, key, value: v })
  if (out.length > 256 || !isContainer(v)) return
  if (Array.isArray(v)) for (const [i, x] of v.entries()) walk(x, v, i, out)
  else for (const k of Object.keys(v)) walk(v[k], v, k, out)
}

/** `n` as an unsigned LEB128 varint (as the wire writes lengths and ids). */
export function varint(n: number): Uint8Array {
  const out: number[] = []
  do {
    const b = n % 128
    n = Math.floor(n / 128)
    out.push(n > 0 ? b | 0x80 : b)
  } while (n > 0)
  return Uint8Array.from(out)
}

/** A value as JSON with sorted keys and bytes as hex: equal text, equal value (as the wire sees it: -0 is 0). */
export function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) => {
    if (x instanceof Uint8Array) return { bytes: Buffer.from(x).toString('hex') }
    if (typeof x === 'object' && x !== null && !Array.isArray(x))
      return Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
    return x
  })
}
