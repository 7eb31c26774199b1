// The fuzz harness shared by `npm test` (test/fuzz/*.test.ts, 10,000 inputs a
// target) and `npm run fuzz` (scripts/fuzz.ts, 1,000,000): a target is an
// arbitrary of inputs and a check that throws on a crash. Plain Node-runnable
// TypeScript (no vitest here), so the script can run it on the built library.
import fc from 'fast-check'
import { ProtocolError } from 'peercompute'

/** One thing to fuzz: inputs from `arbitrary`, each given to `check`, which throws on a crash. */
export interface FuzzTarget<T = unknown> {
  /** Short name, printed and used to pick targets (`npm run fuzz -- --target registry`). */
  name: string
  arbitrary: fc.Arbitrary<T>
  /** Throws (anything) when the input makes the code under test misbehave. */
  check(input: T): void | Promise<void>
  /** True when `check` returns a promise (file I/O, async event chains). */
  async?: boolean
  /** Before the first input (a temporary directory, say). */
  setup?: () => void
  /** After the last input, crash or not. */
  teardown?: () => void
}

/** A property that does not hold: what `check` throws for a bad outcome it saw itself. */
export class FuzzFailure extends Error {
  override name = 'FuzzFailure'
}

/** What one run of a target found. */
export interface FuzzReport {
  name: string
  seed: number
  inputs: number
  ms: number
  /** Inputs that crashed (a throw from `check`, or an unhandled error while it ran). */
  crashes: number
  /** The first crash, shrunk by fast-check: the counterexample and the error. */
  failure?: string
}

/** Defines a target (keeps `T` inferred from the arbitrary). */
export function target<T>(t: FuzzTarget<T>): FuzzTarget<T> {
  return t
}

/**
 * Runs `fn` with hostile input: returns its value, or `undefined` when it threw
 * one of the `allowed` typed errors (default: ProtocolError). Anything else it
 * throws is a crash and is thrown on, wrapped so the report says so.
 */
export function typedOnly<R>(
  fn: () => R,
  allowed: readonly (new (...a: never[]) => Error)[] = [ProtocolError],
): R | undefined {
  try {
    return fn()
  } catch (err) {
    if (allowed.some((C) => err instanceof C)) return undefined
    throw untyped(err)
  }
}

/** The async form of `typedOnly`. */
export async function typedOnlyAsync<R>(
  fn: () => Promise<R>,
  allowed: readonly (new (...a: never[]) => Error)[] = [ProtocolError],
): Promise<R | undefined> {
  try {
    return await fn()
  } catch (err) {
    if (allowed.some((C) => err instanceof C)) return undefined
    throw untyped(err)
  }
}

function untyped(err: unknown): FuzzFailure {
  const e = err as Error
  const f = new FuzzFailure(`untyped error escaped: ${e?.name}: ${e?.message}`)
  f.stack = `${f.message}\n${e?.stack ?? String(err)}`
  return f
}

/** Throws a FuzzFailure with `message` unless `cond`. */
export function ensure(cond: unknown, message: string | (() => string)): asserts cond {
  if (!cond) throw new FuzzFailure(typeof message === 'string' ? message : message())
}

/** Whether two lists hold the same bytes (Buffers and Uint8Arrays alike: which one a decoder returns is its own business). */
export function sameByteLists(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  return a.length === b.length && a.every((x, i) => Buffer.compare(x, b[i]) === 0)
}

/**
 * Runs `t` on `runs` inputs drawn from `seed`. Every input runs even after a
 * crash (the count is the report's `crashes`); then the first crash is found
 * again and shrunk, for the report's `failure`. Unhandled rejections and
 * uncaught exceptions while it runs count as crashes too.
 */
export async function runTarget<T>(t: FuzzTarget<T>, opts: { runs: number; seed: number }): Promise<FuzzReport> {
  let crashes = 0
  let stray: unknown[] = []
  const onStray = (err: unknown) => {
    stray.push(err)
  }
  process.on('unhandledRejection', onStray)
  process.on('uncaughtException', onStray)
  const strayCrash = () => {
    if (stray.length === 0) return
    const err = stray[0]
    stray = []
    throw new FuzzFailure(`unhandled error while the input ran: ${(err as Error)?.stack ?? String(err)}`)
  }
  const params = { numRuns: opts.runs, seed: opts.seed }
  const started = performance.now()
  try {
    t.setup?.()
    if (t.async) {
      await fc.check(
        fc.asyncProperty(t.arbitrary, async (x) => {
          try {
            await t.check(x)
            await settle()
            strayCrash()
          } catch {
            crashes++
          }
        }),
        params,
      )
    } else {
      fc.check(
        fc.property(t.arbitrary, (x) => {
          try {
            t.check(x)
          } catch {
            crashes++
          }
        }),
        params,
      )
      await settle()
      if (stray.length) crashes += stray.length
    }
    const ms = performance.now() - started
    let failure: string | undefined
    if (crashes > 0) {
      stray = []
      const strict = t.async
        ? await fc.check(
            fc.asyncProperty(t.arbitrary, async (x) => {
              await t.check(x)
              await settle()
              strayCrash()
            }),
            params,
          )
        : fc.check(
            fc.property(t.arbitrary, (x) => {
              t.check(x)
            }),
            params,
          )
      failure = strict.failed
        ? `${fc.defaultReportMessage(strict)}\n${describe(strict.errorInstance)}`
        : `a crash was counted but did not happen again on a replay (an unhandled error from an earlier input?)`
    }
    return { name: t.name, seed: opts.seed, inputs: opts.runs, ms, crashes, failure }
  } finally {
    t.teardown?.()
    process.off('unhandledRejection', onStray)
    process.off('uncaughtException', onStray)
  }
}

/** Lets queued promise reactions and immediates run (so an unhandled rejection has been reported). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

function describe(err: unknown): string {
  return err instanceof Error ? (err.stack ?? `${err.name}: ${err.message}`) : String(err)
}
