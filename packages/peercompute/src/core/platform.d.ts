// The web-platform globals shared code uses, available alike in browsers, workers
// and Node. Declared here so src/core compiles with neither DOM nor Node types.
interface AbortSignal {
  readonly aborted: boolean
  readonly reason: unknown
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void
  removeEventListener(type: 'abort', listener: () => void): void
  throwIfAborted(): void
}
declare var AbortSignal: { timeout(ms: number): AbortSignal; abort(reason?: unknown): AbortSignal }
declare class AbortController {
  readonly signal: AbortSignal
  abort(reason?: unknown): void
}
declare function setTimeout(cb: () => void, ms?: number): unknown
declare function clearTimeout(handle: unknown): void
declare function queueMicrotask(cb: () => void): void
declare var performance: { now(): number }
declare class TextEncoder {
  encode(s: string): Uint8Array
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean })
  decode(b: Uint8Array): string
}
