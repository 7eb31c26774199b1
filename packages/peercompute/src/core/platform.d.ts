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
declare function setInterval(cb: () => void, ms?: number): unknown
declare function clearInterval(handle: unknown): void
interface Event {
  readonly type: string
}
interface CustomEvent<T = unknown> extends Event {
  readonly detail: T
}
declare var CustomEvent: { new <T>(type: string, init?: { detail?: T }): CustomEvent<T> }
interface EventListenerOptions {
  capture?: boolean
}
interface AddEventListenerOptions extends EventListenerOptions {
  once?: boolean
  signal?: AbortSignal
}
type EventListenerOrEventListenerObject = ((evt: Event) => void) | { handleEvent(evt: Event): void }
interface EventTarget {
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: AddEventListenerOptions | boolean,
  ): void
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: EventListenerOptions | boolean,
  ): void
  dispatchEvent(event: Event): boolean
}
declare var EventTarget: { new (): EventTarget }
declare var crypto: {
  subtle: {
    importKey(
      format: 'raw',
      key: Uint8Array,
      alg: { name: 'HMAC'; hash: 'SHA-256' },
      extractable: boolean,
      usages: string[],
    ): Promise<unknown>
    sign(alg: 'HMAC', key: unknown, data: Uint8Array): Promise<ArrayBuffer>
    // Ed25519 and SHA-256 (core/code: publisher keys, signed bundles)
    importKey(
      format: 'raw' | 'pkcs8',
      key: Uint8Array,
      alg: { name: 'Ed25519' },
      extractable: boolean,
      usages: string[],
    ): Promise<unknown>
    generateKey(alg: { name: 'Ed25519' }, extractable: boolean, usages: string[]): Promise<unknown>
    exportKey(format: 'raw' | 'pkcs8', key: unknown): Promise<ArrayBuffer>
    exportKey(format: 'jwk', key: unknown): Promise<{ kty?: string; crv?: string; x?: string; d?: string }>
    sign(alg: 'Ed25519', key: unknown, data: Uint8Array): Promise<ArrayBuffer>
    verify(alg: 'Ed25519', key: unknown, signature: Uint8Array, data: Uint8Array): Promise<boolean>
    digest(alg: 'SHA-256', data: Uint8Array): Promise<ArrayBuffer>
  }
}
declare function btoa(data: string): string
declare function atob(data: string): string
interface ReadableStreamReadResult<T> {
  done: boolean
  value: T
}
interface ReadableStreamDefaultReader<T> {
  read(): Promise<ReadableStreamReadResult<T>>
  cancel(reason?: unknown): Promise<void>
}
interface ReadableStream<T> {
  getReader(): ReadableStreamDefaultReader<T>
  cancel(reason?: unknown): Promise<void>
}
interface Headers {
  get(name: string): string | null
}
interface Response {
  readonly status: number
  readonly headers: Headers
  readonly body: ReadableStream<Uint8Array> | null
}
declare function fetch(
  url: string,
  init?: {
    headers?: Record<string, string>
    signal?: AbortSignal
    method?: string
    credentials?: 'omit' | 'same-origin' | 'include'
    redirect?: 'follow' | 'error' | 'manual'
    referrerPolicy?: 'no-referrer'
    mode?: 'cors' | 'same-origin' | 'no-cors'
    cache?: 'no-store' | 'default'
  },
): Promise<Response>
declare class URL {
  constructor(url: string, base?: string | URL)
  readonly href: string
  readonly origin: string
  readonly protocol: string
  readonly username: string
  readonly password: string
  readonly host: string
  readonly hostname: string
  readonly port: string
  readonly pathname: string
  readonly search: string
  readonly hash: string
  toString(): string
}
