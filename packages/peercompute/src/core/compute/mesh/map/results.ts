import type { MapValue } from './batch-codec.js'

/** Chunks joined by one `concat` call at most (its arguments are on the stack). */
const CONCAT_CHUNKS = 4096

/**
 * A map job's results in input order: a batch's results join once every
 * earlier batch's have; each batch's array is kept, and they are joined by
 * `concat` at the end (an array allocated whole for a million results is
 * slower to fill in V8 than batches of numbers copied as blocks).
 */
export class MapResults {
  /** Results in order so far: every result before this index is in place. */
  ready = 0
  private readonly chunks: MapValue[][] = []
  /** Batches that finished before an earlier one, by their first item's index. */
  private readonly early = new Map<number, MapValue[]>()
  /** Where `at` last read in `chunks`: reading in order costs no search. */
  private chunk = 0
  private chunkStart = 0

  /** Adds `values`, the results of the batch whose first item is `first`. */
  add(first: number, values: MapValue[]): void {
    this.early.set(first, values)
    for (let got = this.early.get(this.ready); got; got = this.early.get(this.ready)) {
      this.early.delete(this.ready)
      this.chunks.push(got)
      this.ready += got.length
    }
  }

  /** The result at `i` (< ready). */
  at(i: number): MapValue {
    if (i < this.chunkStart) {
      this.chunk = 0
      this.chunkStart = 0
    }
    while (i >= this.chunkStart + this.chunks[this.chunk].length) this.chunkStart += this.chunks[this.chunk++].length
    return this.chunks[this.chunk][i - this.chunkStart]
  }

  /** Every result, in order (once all joined). */
  all(): MapValue[] {
    if (this.chunks.length === 1) return this.chunks[0]
    // concat copies a batch of numbers as a block, not value by value
    let all: MapValue[] = []
    for (let i = 0; i < this.chunks.length; i += CONCAT_CHUNKS)
      all = all.concat(...this.chunks.slice(i, i + CONCAT_CHUNKS))
    return all
  }
}
