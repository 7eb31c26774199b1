import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import type { StatePersistence } from '../../core/state/persistence.js'
import { encodeFrame, FrameDecoder } from '../../core/wire/frames.js'

/**
 * A document's updates in one append-only file of length-prefixed frames.
 * Compaction writes a snapshot to a temporary file and renames it over the log,
 * so a crash leaves either the old log or the new one. A torn last frame (a
 * crash mid-append) is dropped on load, with a log line, not a failure.
 */
export class FileUpdateLog implements StatePersistence {
  private readonly path: string
  private readonly maxUpdateBytes: number
  private readonly log?: (line: string) => void
  private fd: number | undefined

  constructor(path: string, opts: { maxUpdateBytes?: number; log?: (line: string) => void } = {}) {
    this.path = path
    this.maxUpdateBytes = opts.maxUpdateBytes ?? 64 << 20
    this.log = opts.log
  }

  async load(): Promise<Uint8Array[]> {
    if (!existsSync(this.path)) return []
    const bytes = readFileSync(this.path)
    const decoder = new FrameDecoder(this.maxUpdateBytes)
    let frames: Uint8Array[] = []
    try {
      frames = decoder.push(bytes)
    } catch (err) {
      this.log?.(`${this.path}: ${(err as Error).message}; keeping the updates before it`)
    }
    if (decoder.buffered > 0) this.log?.(`${this.path}: dropped a torn last update (${decoder.buffered} bytes)`)
    return frames
  }

  async append(update: Uint8Array): Promise<void> {
    this.fd ??= openSync(this.path, 'a', 0o600)
    writeSync(this.fd, encodeFrame(update))
  }

  async compact(snapshot: Uint8Array): Promise<void> {
    const tmp = `${this.path}.compacting`
    const fd = openSync(tmp, 'w', 0o600)
    try {
      writeSync(fd, encodeFrame(snapshot))
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    if (this.fd !== undefined) closeSync(this.fd)
    this.fd = undefined
    renameSync(tmp, this.path)
  }

  async close(): Promise<void> {
    if (this.fd !== undefined) {
      fsyncSync(this.fd)
      closeSync(this.fd)
    }
    this.fd = undefined
  }
}
