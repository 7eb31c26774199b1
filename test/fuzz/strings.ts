// String generators for messages with length limits counted in UTF-16 code units.
import fc from 'fast-check'

/** Any code point, lone surrogate halves included (fast-check's own `binary` unit is slow to set up). */
const codePoint = fc.integer({ min: 0, max: 0x10ffff }).map((c) => String.fromCodePoint(c))

/** Any string: ASCII, full Unicode, and lone surrogates (which JSON escapes and UTF-8 cannot carry). */
export const anyString = (maxLength: number): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.string({ maxLength }) },
    { weight: 2, arbitrary: fc.string({ unit: codePoint, maxLength }) },
    { weight: 1, arbitrary: fc.constantFrom('\ud800', 'a\udfff', '"\\', '\u0000', '\u2028') },
  )

// with the u flag a surrogate pair is one code point, so this matches lone halves only
const LONE_SURROGATE = /\p{Surrogate}/u

/** A string of at most `max` code units, sometimes exactly `max` long. */
export function boundedString(max: number, opts: { wellFormed?: boolean } = {}): fc.Arbitrary<string> {
  const short = opts.wellFormed ? fc.string({ unit: codePoint, maxLength: max }) : anyString(Math.min(max, 64))
  return fc
    .oneof({ weight: 6, arbitrary: short }, { weight: 1, arbitrary: fc.constant('x'.repeat(max)) })
    .map((s) => s.slice(0, max))
    .filter((s) => !opts.wellFormed || !LONE_SURROGATE.test(s))
}

/** `fc.record` with plain objects only (fast-check also makes null-prototype ones, which no decoder returns). */
export const record = ((model: never, constraints?: object) =>
  fc.record(model, { noNullPrototype: true, ...constraints })) as unknown as typeof fc.record
