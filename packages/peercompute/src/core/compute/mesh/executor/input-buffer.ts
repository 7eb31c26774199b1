import type { Admission } from './ledger.js'

/** The first allocation for an inline input (smaller inputs get exactly their size). */
const FIRST_BYTES = 64 * 1024

/**
 * A task's inline input, allocated as it arrives rather than on the peer's
 * word: the buffer doubles (up to the declared length) only when data needs
 * the room, and every allocation is first granted by the task's admission.
 * A request that declares 64 MiB and sends nothing holds nothing.
 */
export class InputBuffer {
  /** Bytes the request declared. */
  readonly length: number
  private readonly admission: Admission
  private buf = new Uint8Array(0)
  private got = 0

  constructor(length: number, admission: Admission) {
    this.length = length
    this.admission = admission
  }

  /** Bytes received so far. */
  get received(): number {
    return this.got
  }

  /** True once every declared byte arrived. */
  get complete(): boolean {
    return this.got === this.length
  }

  /**
   * Appends `data`. Returns `'overflow'` for more bytes than declared, `'budget'`
   * when the node-wide byte budget cannot grant the room, else `'ok'`.
   */
  push(data: Uint8Array): 'ok' | 'overflow' | 'budget' {
    if (data.length === 0) return 'ok'
    const need = this.got + data.length
    if (need > this.length) return 'overflow'
    if (need > this.buf.length) {
      const size = Math.min(this.length, Math.max(need, this.buf.length * 2, FIRST_BYTES))
      if (!this.admission.grow(size)) return 'budget'
      const next = new Uint8Array(size)
      next.set(this.buf.subarray(0, this.got))
      this.buf = next
    }
    this.buf.set(data, this.got)
    this.got = need
    return 'ok'
  }

  /** The whole input, once complete (the buffer is handed over: push nothing after). */
  bytes(): Uint8Array {
    return this.buf.length === this.got ? this.buf : this.buf.subarray(0, this.got)
  }
}
