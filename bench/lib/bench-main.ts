// The frame the relay benchmarks share: a time limit, a scratch folder, a relay
// process, and an exit code (0 done, 1 failed or over time) once all is stopped.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startRelayProcess } from './processes.ts'

/** The relay process a benchmark runs against. */
export type RelayProcess = Awaited<ReturnType<typeof startRelayProcess>>

/** Exits with code 1 once `minutes` have passed: `name: over N minutes, giving up`. */
export function giveUpAfter(name: string, minutes: number): void {
  const guard = setTimeout(() => {
    console.error(`${name}: over ${minutes} minutes, giving up`)
    process.exit(1)
  }, minutes * 60_000)
  guard.unref()
}

/** A fresh scratch folder `pc-bench-NAME-…` in the system's temp folder (runWithRelay removes it). */
export function benchDir(name: string): string {
  return mkdtempSync(join(tmpdir(), `pc-bench-${name}-`))
}

/**
 * Starts a relay process (its identity kept in `dir`), runs `main` with it,
 * then stops the relay and removes `dir` whatever happened; exits 0, or 1
 * after printing the error.
 */
export function runWithRelay(dir: string, main: (relay: RelayProcess) => Promise<void>): void {
  const run = async () => {
    const relay = await startRelayProcess(join(dir, 'relay.key'))
    try {
      await main(relay)
    } finally {
      await relay.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  }
  run().then(
    () => process.exit(0),
    (err) => {
      console.error(err)
      process.exit(1)
    },
  )
}
