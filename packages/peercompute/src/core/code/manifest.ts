import { ProtocolError } from '../errors.js'
import { int, obj, oneOf, parseJson, str } from '../wire/validate.js'

// The manifest of a signed bundle (PROTOCOL.md, "Signed code bundles"): what the
// publisher vouches for. Its bytes are canonical JSON, so one manifest has one
// encoding, and that encoding is what the signature covers.

/** What a bundle's code is: a JavaScript kernel module, or a WGSL compute shader. */
export type CodeKind = 'kernel' | 'wgsl'

/** A buffer a WGSL shader declares (as in `WgslBinding`, without the data). */
export interface CodeBinding {
  binding: number
  kind: 'storage-read' | 'storage' | 'uniform'
}

/** Limits the publisher declares for one run of the code; an executor applies the smaller of these and its own. */
export interface CodeLimits {
  /** Largest input of one run, bytes. */
  maxInputBytes?: number
  /** Largest output of one run, bytes. */
  maxOutputBytes?: number
  /** Longest run, ms. */
  timeoutMs?: number
  /** Memory one run may use, MiB (a Node worker's heap). */
  memoryMb?: number
}

/** A bundle's manifest: every field checked by `parseManifest`. */
export interface CodeManifest {
  /** 1..64 characters: letters, digits, `.`, `_`, `-`, starting with a letter or digit. */
  name: string
  /** 1..32 characters: letters, digits, `.`, `+`, `-`, starting with a letter or digit. */
  version: string
  kind: CodeKind
  /** SHA-256 of the code, 64 lower-case hex digits. */
  sha256: string
  /** The code's length in bytes. */
  size: number
  /** The function to run: a kernel module's export, or a shader's entry point (an ASCII identifier ≤ 64). */
  entry: string
  /** A shader's bindings, ascending by number, distinct (at least one); none for a kernel. */
  bindings: CodeBinding[]
  limits: CodeLimits
  /** When the signature stops being good: an ISO 8601 UTC time as `Date.toISOString()` writes it. */
  expires?: string
}

/** Largest manifest encoding, bytes. */
export const MANIFEST_MAX_BYTES = 16 * 1024
/** Largest code a bundle carries (8 MiB). */
export const BUNDLE_CODE_MAX = 8 * 1024 * 1024
/** Most bindings a shader may declare. */
export const MAX_BINDINGS = 16

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/
const VERSION = /^[A-Za-z0-9][A-Za-z0-9.+-]{0,31}$/
const ENTRY = /^[A-Za-z_$][A-Za-z0-9_$]{0,63}$/
const SHA256 = /^[0-9a-f]{64}$/
const FIELDS = new Set(['name', 'version', 'kind', 'sha256', 'size', 'entry', 'bindings', 'limits', 'expires'])
const LIMITS: Record<keyof CodeLimits, [number, number]> = {
  maxInputBytes: [0, 2 ** 40],
  maxOutputBytes: [0, 2 ** 40],
  timeoutMs: [1, 604_800_000],
  memoryMb: [1, 65_536],
}
const BINDING_KINDS = ['storage-read', 'storage', 'uniform'] as const

function match(v: unknown, what: string, re: RegExp, max: number): string {
  const s = str(v, what, max)
  if (!re.test(s)) throw new ProtocolError(`${what} ${JSON.stringify(s.slice(0, 80))} is not allowed (${re.source})`)
  return s
}

/**
 * Checks a manifest value field by field: unknown fields, a wrong type or a
 * value out of range are a `ProtocolError` (a newer format is a new format byte,
 * never a field an older verifier would skip). Returns a fresh manifest.
 */
export function checkManifest(value: unknown): CodeManifest {
  const m = obj(value, 'manifest')
  for (const k of Object.keys(m))
    if (!FIELDS.has(k)) throw new ProtocolError(`manifest has unknown field ${JSON.stringify(k.slice(0, 64))}`)
  const kind = oneOf(m.kind, 'manifest.kind', ['kernel', 'wgsl'] as const)
  const bindingsIn = m.bindings
  if (!Array.isArray(bindingsIn)) throw new ProtocolError('manifest.bindings must be an array')
  if (bindingsIn.length > MAX_BINDINGS) throw new ProtocolError(`manifest.bindings has more than ${MAX_BINDINGS} items`)
  const bindings = bindingsIn.map((b, i): CodeBinding => {
    const o = obj(b, `manifest.bindings[${i}]`)
    for (const k of Object.keys(o))
      if (k !== 'binding' && k !== 'kind') throw new ProtocolError(`manifest.bindings[${i}] has unknown field`)
    return {
      binding: int(o.binding, `manifest.bindings[${i}].binding`, 0, 1023),
      kind: oneOf(o.kind, `manifest.bindings[${i}].kind`, BINDING_KINDS),
    }
  })
  for (let i = 1; i < bindings.length; i++)
    if (bindings[i].binding <= bindings[i - 1].binding)
      throw new ProtocolError('manifest.bindings must be ascending by binding, each number once')
  if (kind === 'kernel' && bindings.length) throw new ProtocolError('a kernel declares no bindings')
  if (kind === 'wgsl' && !bindings.length) throw new ProtocolError('a WGSL shader declares at least one binding')
  const limitsIn = obj(m.limits, 'manifest.limits')
  const limits: CodeLimits = {}
  for (const [k, v] of Object.entries(limitsIn)) {
    const range = Object.hasOwn(LIMITS, k) ? LIMITS[k as keyof CodeLimits] : undefined
    if (!range) throw new ProtocolError(`manifest.limits has unknown field ${JSON.stringify(k.slice(0, 64))}`)
    limits[k as keyof CodeLimits] = int(v, `manifest.limits.${k}`, range[0], range[1])
  }
  const out: CodeManifest = {
    name: match(m.name, 'manifest.name', NAME, 64),
    version: match(m.version, 'manifest.version', VERSION, 32),
    kind,
    sha256: match(m.sha256, 'manifest.sha256', SHA256, 64),
    size: int(m.size, 'manifest.size', 0, BUNDLE_CODE_MAX),
    entry: match(m.entry, 'manifest.entry', ENTRY, 64),
    bindings,
    limits,
  }
  if (m.expires !== undefined) {
    const s = str(m.expires, 'manifest.expires', 32)
    const t = Date.parse(s)
    if (!Number.isFinite(t) || new Date(t).toISOString() !== s)
      throw new ProtocolError('manifest.expires must be an ISO 8601 UTC time as Date.toISOString() writes it')
    out.expires = s
  }
  return out
}

/**
 * The manifest's canonical bytes: UTF-8 JSON, no white space, the keys of every
 * object in ascending order, `expires` left out when absent. The fields hold only
 * ASCII strings without escapes and safe integers, so this is the one encoding.
 * Throws `ProtocolError` for a manifest `checkManifest` refuses.
 */
export function encodeManifest(manifest: CodeManifest): Uint8Array {
  const m = checkManifest(manifest)
  const sorted = (o: object) => Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  const canonical = sorted({ ...m, limits: sorted(m.limits), bindings: m.bindings.map(sorted) })
  const bytes = new TextEncoder().encode(JSON.stringify(canonical))
  if (bytes.length > MANIFEST_MAX_BYTES) throw new ProtocolError(`manifest of ${bytes.length} bytes is too large`)
  return bytes
}

/**
 * The manifest in `bytes`, which must be its canonical encoding exactly (any
 * other spelling of the same JSON is a `ProtocolError`): what was signed is
 * what is read.
 */
export function decodeManifest(bytes: Uint8Array): CodeManifest {
  if (bytes.length > MANIFEST_MAX_BYTES) throw new ProtocolError(`manifest of ${bytes.length} bytes is too large`)
  const m = checkManifest(parseJson(bytes, 'manifest'))
  const again = encodeManifest(m)
  if (again.length !== bytes.length || again.some((b, i) => b !== bytes[i]))
    throw new ProtocolError('manifest is not in canonical form')
  return m
}
