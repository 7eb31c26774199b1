/** A small seeded PRNG (mulberry32) for reproducible randomized tests. */
export function prng(seed: number): { u32(): number; int(maxExclusive: number): number; bytes(n: number): Uint8Array } {
  let a = seed >>> 0
  const u32 = () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
  return {
    u32,
    int: (max) => u32() % max,
    bytes(n) {
      const b = new Uint8Array(n)
      for (let i = 0; i < n; i++) b[i] = u32() & 0xff
      return b
    },
  }
}

/** The seed for a randomized test: `SEED` from the environment, or a fixed default. */
export function testSeed(fallback: number): number {
  const env = (globalThis as { process?: { env: Record<string, string | undefined> } }).process?.env.SEED
  return env ? Number(env) : fallback
}
