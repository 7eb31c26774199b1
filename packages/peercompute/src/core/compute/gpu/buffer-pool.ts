/** Buffers kept of each usage and size: enough for reuse, not a leak. */
const KEEP_PER_SIZE = 4

/**
 * The GpuExecutor's buffers for reuse, all of one device: sizes rounded up to a
 * power of two, a few kept of each. A buffer of another device (one lost
 * while its task ran) is destroyed when given back, never handed out: used on
 * a new device, Dawn drops the pass and the task reads zeros.
 */
export class BufferPool {
  private readonly free = new Map<string, GPUBuffer[]>()
  private device?: GPUDevice

  /** Empties the pool and makes it `device`'s (undefined: no device's, e.g. lost or stopped). */
  reset(device?: GPUDevice): void {
    for (const list of this.free.values()) for (const b of list) b.destroy()
    this.free.clear()
    this.device = device
  }

  /** A buffer of at least `size` bytes on `device`, pooled if one is free. */
  take(device: GPUDevice, size: number, usage: number): GPUBuffer {
    const bucket = 2 ** Math.ceil(Math.log2(Math.max(size, 16)))
    const list = device === this.device ? this.free.get(`${usage}:${bucket}`) : undefined
    return list?.pop() ?? device.createBuffer({ size: bucket, usage })
  }

  /** Gives `device`'s buffers back: kept if the pool is still that device's and has room, else destroyed. */
  give(device: GPUDevice, ...bufs: GPUBuffer[]): void {
    for (const b of bufs) {
      const k = `${b.usage}:${b.size}`
      const list = device === this.device ? (this.free.get(k) ?? []) : undefined
      if (!list || list.length >= KEEP_PER_SIZE) {
        b.destroy()
        continue
      }
      list.push(b)
      this.free.set(k, list)
    }
  }
}
