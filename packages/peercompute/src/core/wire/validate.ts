import { ProtocolError } from '../errors.js'

// Strict readers for decoded JSON: every field typed and bounded, or a ProtocolError.

export function obj(v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ProtocolError(`${what} must be an object`)
  return v as Record<string, unknown>
}

export function str(v: unknown, what: string, max: number): string {
  if (typeof v !== 'string') throw new ProtocolError(`${what} must be a string`)
  if (v.length > max) throw new ProtocolError(`${what} longer than ${max} characters`)
  return v
}

export function int(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ProtocolError(`${what} must be an integer in ${min}..${max}`)
  }
  return v
}

export function num(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new ProtocolError(`${what} must be a number in ${min}..${max}`)
  }
  return v
}

export function bool(v: unknown, what: string): boolean {
  if (typeof v !== 'boolean') throw new ProtocolError(`${what} must be a boolean`)
  return v
}

export function arr<T>(v: unknown, what: string, max: number, item: (x: unknown, what: string) => T): T[] {
  if (!Array.isArray(v)) throw new ProtocolError(`${what} must be an array`)
  if (v.length > max) throw new ProtocolError(`${what} has more than ${max} items`)
  return v.map((x, i) => item(x, `${what}[${i}]`))
}

export function oneOf<T extends string>(v: unknown, what: string, values: readonly T[]): T {
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    throw new ProtocolError(`${what} must be one of ${values.join(', ')}`)
  }
  return v as T
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/** Parses a JSON body, turning any failure into a ProtocolError. */
export function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(utf8.decode(bytes))
  } catch (err) {
    throw new ProtocolError(`${what}: not UTF-8 JSON (${(err as Error).message})`)
  }
}
