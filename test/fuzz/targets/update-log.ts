// Fuzz targets of the Node update log loader (node/state/file-update-log.ts):
// random file contents in a temporary directory.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { encodeFrame, FileUpdateLog } from 'peercompute'
import { ensure, FuzzFailure, sameByteLists, target } from '../harness.ts'
import { applyEdits, byteEdit, concat, varint } from '../mutate.ts'

/** The read limit of the logs under test: small, so that lengths over it are common. */
const MAX = 1024

const update = fc.uint8Array({ maxLength: 200 })
const good = fc.array(update, { maxLength: 10 })

/** What follows the good frames: nothing, a torn frame, a damaged one, a bad length, or garbage. */
const tail = fc.oneof(
  fc.constant({ kind: 'none', bytes: new Uint8Array(0) }),
  fc
    .tuple(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.nat())
    .map(([u, cut]) => ({ kind: 'torn', bytes: encodeFrame(u).subarray(0, cut % encodeFrame(u).length) })),
  fc
    .tuple(update, fc.array(byteEdit, { minLength: 1, maxLength: 3 }))
    .map(([u, edits]) => ({ kind: 'damaged', bytes: applyEdits(encodeFrame(u), edits) })),
  fc
    .tuple(fc.integer({ min: MAX + 1, max: 2 ** 35 - 1 }), fc.uint8Array({ maxLength: 32 }))
    .map(([len, rest]) => ({ kind: 'too long', bytes: concat(varint(len), rest) })),
  fc
    .uint8Array({ maxLength: 8 })
    .map((rest) => ({ kind: 'long varint', bytes: concat(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80), rest) })),
  fc.uint8Array({ maxLength: 512 }).map((bytes) => ({ kind: 'garbage', bytes })),
)

let dir = ''
const tempDir = {
  setup() {
    // memory-backed where there is one: a million files written on a disk take minutes
    dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'pc-fuzz-log-'))
  },
  teardown() {
    rmSync(dir, { recursive: true, force: true })
  },
}

/**
 * Loading a log of good updates followed by anything: load() never fails, every
 * update it returns is within its read limit, it keeps every good update before
 * the damage, and a torn last frame is dropped without a trace.
 */
export const updateLogLoad = target({
  name: 'update-log.load',
  async: true,
  ...tempDir,
  arbitrary: fc.record({ good, tail }),
  async check({ good, tail }) {
    const path = join(dir, 'doc.log')
    writeFileSync(path, concat(...good.map((u) => encodeFrame(u)), tail.bytes))
    let lines = 0
    const log = new FileUpdateLog(path, { maxUpdateBytes: MAX, log: () => lines++ })
    let got: Uint8Array[]
    try {
      got = await log.load()
    } catch (err) {
      throw new FuzzFailure(`load() threw: ${(err as Error)?.stack ?? err}`)
    } finally {
      await log.close()
    }
    for (const u of got) ensure(u.length <= MAX, `loaded an update of ${u.length} bytes, over ${MAX}`)
    ensure(
      sameByteLists(got.slice(0, good.length), good),
      () => `lost good updates before a ${tail.kind} tail: ${got.length} loaded of ${good.length}`,
    )
    if (tail.kind === 'none' || tail.kind === 'torn') {
      ensure(got.length === good.length, `${got.length} updates loaded from ${good.length} and a torn tail`)
      ensure(tail.bytes.length > 0 === lines > 0, 'a torn tail must be logged, and only then')
    }
  },
})

/** Updates appended, then a compaction: a new log loads exactly what was written. */
export const updateLogRoundTrip = target({
  name: 'update-log.roundtrip',
  async: true,
  ...tempDir,
  arbitrary: fc.record({ updates: good, snapshot: fc.option(fc.uint8Array({ maxLength: MAX })) }),
  async check({ updates, snapshot }) {
    const path = join(dir, 'doc.log')
    rmSync(path, { force: true })
    const writer = new FileUpdateLog(path, { maxUpdateBytes: MAX })
    for (const u of updates) await writer.append(u)
    if (snapshot) await writer.compact(snapshot)
    await writer.close()
    const reader = new FileUpdateLog(path, { maxUpdateBytes: MAX })
    const got = await reader.load()
    await reader.close()
    const want = snapshot ? [snapshot] : updates
    ensure(sameByteLists(got, want), `loaded ${got.length} updates, not the ${want.length} written`)
  },
})
