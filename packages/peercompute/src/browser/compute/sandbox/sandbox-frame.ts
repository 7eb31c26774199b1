import { parseSandboxReply, type SandboxReply } from './sandbox-reply.js'
import { sandboxDocument } from './sandbox-sources.js'

/** Messages to a sandbox's worker. */
export type ToSandbox =
  | { t: 'load'; name: string; url: string }
  | { t: 'drop'; name: string }
  | { t: 'run'; id: number; name: string; input: unknown; params: unknown; map: boolean }
  | { t: 'cancel'; id: number }

/** What a SandboxFrame reports. */
export interface SandboxFrameEvents {
  /** A checked reply of the worker (`ready`, `done`). */
  onReply(reply: SandboxReply): void
  /** The sandbox is unusable (it crashed, sent something malformed, or could not start); called once. */
  onDeath(why: string): void
}

/**
 * One sandbox: a hidden `<iframe sandbox="allow-scripts">` (an opaque origin:
 * no access to the page, its storage or cookies) whose document starts one
 * Worker; the page talks to that worker over a MessagePort. `kill()` removes
 * the iframe, which ends the worker with it.
 */
export class SandboxFrame {
  private readonly iframe: HTMLIFrameElement
  private readonly port: MessagePort
  private readonly control: MessagePort
  private readonly events: SandboxFrameEvents
  private dead = false

  constructor(events: SandboxFrameEvents) {
    this.events = events
    const work = new MessageChannel()
    const control = new MessageChannel()
    this.port = work.port1
    this.control = control.port1
    this.port.onmessage = (e) => this.receive(e.data)
    this.control.onmessage = (e) => this.receive(e.data)
    const iframe = document.createElement('iframe')
    // allow-scripts only: without allow-same-origin the document's origin is opaque
    iframe.setAttribute('sandbox', 'allow-scripts')
    iframe.setAttribute('aria-hidden', 'true')
    iframe.tabIndex = -1
    iframe.style.display = 'none'
    iframe.srcdoc = sandboxDocument()
    iframe.addEventListener(
      'load',
      () => {
        if (this.dead) return
        // an opaque origin cannot be named as a target: '*', but the ports only ever reach this iframe's document
        iframe.contentWindow?.postMessage('peercompute-sandbox', '*', [work.port2, control.port2])
      },
      { once: true },
    )
    this.iframe = iframe
    ;(document.body ?? document.documentElement).append(iframe)
  }

  /** Posts `msg` to the worker (queued by the port until the worker takes it). */
  post(msg: ToSandbox): void {
    if (!this.dead) this.port.postMessage(msg)
  }

  /** Ends the sandbox: the iframe goes, and its worker with it. */
  kill(): void {
    if (this.dead) return
    this.dead = true
    this.port.onmessage = null
    this.control.onmessage = null
    this.port.close()
    this.control.close()
    this.iframe.remove()
  }

  private receive(data: unknown): void {
    if (this.dead) return
    let reply: SandboxReply
    try {
      reply = parseSandboxReply(data)
    } catch (err) {
      this.die(`the sandbox sent a malformed message: ${(err as Error).message}`)
      return
    }
    if (reply.t === 'crash') this.die(`the sandbox's worker died: ${reply.message}`)
    else this.events.onReply(reply)
  }

  private die(why: string): void {
    if (this.dead) return
    this.kill()
    this.events.onDeath(why)
  }
}
