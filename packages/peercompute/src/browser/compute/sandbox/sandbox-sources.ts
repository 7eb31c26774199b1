// The code of the sandbox that runs traveling kernels in a page: a document
// with an opaque origin (a sandboxed iframe without allow-same-origin) that
// starts one Worker from a blob URL and hands it a MessagePort to the pool.
// Both are plain strings: nothing of the page's own modules is loaded there.
import { toBase64 } from '../../../core/code/base64.js'

/**
 * The Content-Security-Policy of the sandbox document, inherited by its worker:
 * no network at all (`connect-src 'none'`: fetch, XHR, WebSocket, EventSource
 * fail), scripts only from the sandbox itself, `data:` (the verified kernels)
 * and `blob:` (the worker); eval and WebAssembly allowed inside.
 */
export const SANDBOX_CSP =
  "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval' 'wasm-unsafe-eval' blob: data:; worker-src blob:; connect-src 'none'"

/**
 * The worker: loads kernels (`data:` module URLs) by name, runs one task or a
 * map batch's items in order, answers `{ t: 'done', id, ok, out | name, message }`.
 * Errors are reduced to a name and a message of bounded length; an output
 * that cannot be cloned is answered as an error.
 */
export const SANDBOX_WORKER_SOURCE = `'use strict';
const urls = new Map();
const loaded = new Map();
const running = new Map();
let port = null;
function load(name) {
  let p = loaded.get(name);
  if (!p) {
    const url = urls.get(name);
    if (url === undefined) {
      const e = new Error('no kernel named ' + name + ' in the sandbox');
      e.name = 'KernelNotFoundError';
      return Promise.reject(e);
    }
    p = import(url).then((m) => {
      const fn = m.default !== undefined ? m.default : m.kernel;
      if (typeof fn !== 'function') throw new TypeError('the kernel module exports no default function');
      return fn;
    });
    loaded.set(name, p);
  }
  return p;
}
async function run(m) {
  const ac = new AbortController();
  running.set(m.id, ac);
  try {
    const fn = await load(m.name);
    let out;
    if (m.map) {
      out = new Array(m.input.length);
      for (let i = 0; i < m.input.length; i++) {
        ac.signal.throwIfAborted();
        out[i] = await fn(m.input[i], m.params, { signal: ac.signal });
      }
    } else {
      out = await fn(m.input, m.params, { signal: ac.signal });
    }
    port.postMessage({ t: 'done', id: m.id, ok: true, out: out });
  } catch (e) {
    const name = String((e && e.name) || 'Error').slice(0, 64);
    const message = String((e && e.message) || e).slice(0, 1024);
    port.postMessage({ t: 'done', id: m.id, ok: false, name: name, message: message });
  } finally {
    running.delete(m.id);
  }
}
function onMessage(e) {
  const m = e.data;
  if (!m || typeof m !== 'object') return;
  if (m.t === 'load') { urls.set(m.name, m.url); loaded.delete(m.name); }
  else if (m.t === 'drop') { urls.delete(m.name); loaded.delete(m.name); }
  else if (m.t === 'run') run(m);
  else if (m.t === 'cancel') { const ac = running.get(m.id); if (ac) ac.abort(new Error('cancelled')); }
}
self.onmessage = (e) => {
  if (port !== null || !e.ports || e.ports.length !== 1) return;
  port = e.ports[0];
  self.onmessage = null;
  port.onmessage = onMessage;
  port.postMessage({ t: 'ready' });
};
`

/**
 * The sandbox document (`srcdoc`): on the page's first message carrying two
 * ports, it starts the worker from a blob URL, gives it the first port and
 * keeps the second to report a worker that dies or cannot start.
 */
export function sandboxDocument(): string {
  // '<' escaped so that nothing in the worker's source can close the script element
  const src = JSON.stringify(SANDBOX_WORKER_SOURCE).replace(/</g, '\\u003c')
  return `<!doctype html><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${SANDBOX_CSP}"><script>${sandboxScript(src)}</script>`
}

/** The inline script of the sandbox document (its SHA-256 is what a page's CSP must allow). */
export function sandboxScript(
  workerSourceJson = JSON.stringify(SANDBOX_WORKER_SOURCE).replace(/</g, '\\u003c'),
): string {
  return `(() => {
  let started = false;
  addEventListener('message', (e) => {
    if (started || e.source !== parent || e.ports.length !== 2) return;
    started = true;
    const workerPort = e.ports[0];
    const framePort = e.ports[1];
    const crash = (message) => framePort.postMessage({ t: 'crash', message: String(message).slice(0, 1024) });
    try {
      const url = URL.createObjectURL(new Blob([${workerSourceJson}], { type: 'text/javascript' }));
      const w = new Worker(url);
      w.onerror = (ev) => { ev.preventDefault(); crash(ev.message || 'worker error'); };
      w.postMessage(0, [workerPort]);
    } catch (err) {
      crash((err && err.message) || err);
    }
  });
})();`
}

/**
 * The CSP source that allows the sandbox's inline script on a page whose own
 * Content-Security-Policy (inherited by the srcdoc iframe) has no
 * `'unsafe-inline'`: `'sha256-…'`, for the page's `script-src`.
 */
export async function sandboxScriptHash(): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(sandboxScript()))
  return `'sha256-${toBase64(new Uint8Array(digest))}'`
}
