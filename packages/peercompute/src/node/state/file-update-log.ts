import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, truncateSync, writeSync } from 'node:fs'
import { PayloadTooLargeError } from '../../core/errors.js'
import type { StatePersistence } from '../../core/state/persistence.js'
import { encodeFrame, readVarint } from '../../core/wire/frames.js'

/** Options of a FileUpdateLog. */
export interface FileUpdateLogOptions {
  /**
   * Largest update or snapshot, bytes (default 64 MiB): the one limit for
   * writing and for loading, so whatever was written can be loaded again.
   */
  maxUpdateBytes?: number
  log?: (line: string) => void
}

/**
 * A document's updates in one append-only file of length-prefixed frames.
 * Compaction writes a snapshot to a temporary file and renames it over the log,
 * so a crash leaves either the old log or the new one. Loading keeps every
 * whole frame before a torn or damaged one (a crash mid-append), logs what it
 * dropped, and cuts the file back to the good frames so later appends load too.
 * An update or snapshot over `maxUpdateBytes` is refused before anything is
 * written (`PayloadTooLargeError`): the file always stays loadable.
 */
export class FileUpdateLog implements StatePersistence {
  private readonly path: string
  private readonly maxUpdateBytes: number
  private readonly log?: (line: string) => void
  private fd: number | undefined

  constructor(path: string, opts: FileUpdateLogOptions = {}) {
    this.path = path
    this.maxUpdateBytes = opts.maxUpdateBytes ?? 64 << 20
    this.log = opts.log
  }

  async load(): Promise<Uint8Array[]> {
    if (!existsSync(this.path)) return []
    const bytes = readFileSync(this.path)
    const { frames, good, problem } = readFrames(bytes, this.maxUpdateBytes)
    if (problem) {
      this.log?.(
        `${this.path}: ${problem}; kept the ${frames.length} updates before it, dropped ${bytes.length - good} bytes`,
      )
      // appends after a damaged frame could never be read back: end the file at the last good frame
      truncateSync(this.path, good)
    }
    return frames
  }

  async append(update: Uint8Array): Promise<void> {
    this.check(update, 'update')
    this.fd ??= openSync(this.path, 'a', 0o600)
    writeSync(this.fd, encodeFrame(update))
  }

  async compact(snapshot: Uint8Array): Promise<void> {
    this.check(snapshot, 'snapshot')
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
      const fd = this.fd
      this.fd = undefined
      try {
        fsyncSync(fd)
      } finally {
        closeSync(fd)
      }
    }
  }

  private check(bytes: Uint8Array, what: string): void {
    if (bytes.length > this.maxUpdateBytes) {
      throw new PayloadTooLargeError(
        `${this.path}: a ${what} of ${bytes.length} bytes is over maxUpdateBytes (${this.maxUpdateBytes}); not written`,
      )
    }
  }
}

/**
 * The whole frames at the start of `bytes`, one by one: stops at the first
 * torn frame (the file ends inside it) or bad length (over `max`, or a varint
 * over 5 bytes). `good` is where the last whole frame ends.
 */
export function readFrames(bytes: Uint8Array, max: number): { frames: Uint8Array[]; good: number; problem?: string } {
  const frames: Uint8Array[] = []
  let off = 0
  while (off < bytes.length) {
    const head = readVarint(bytes, off)
    if (typeof head === 'string') {
      const problem = head === 'long' ? 'a frame length longer than 5 bytes' : 'a torn last update'
      return { frames, good: off, problem }
    }
    const { value: len, end: i } = head
    if (len > max) return { frames, good: off, problem: `a frame of ${len} bytes, over the limit of ${max}` }
    if (bytes.length - i < len) return { frames, good: off, problem: 'a torn last update' }
    frames.push(bytes.subarray(i, i + len))
    off = i + len
  }
  return { frames, good: off }
}
