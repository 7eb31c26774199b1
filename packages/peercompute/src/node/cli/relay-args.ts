/**
 * `peercompute relay` arguments with the design's spelling accepted:
 * `--port N` (and `--port=N`) is the WebSocket port, `--ws-port N`.
 */
export function relayArgs(argv: string[]): string[] {
  return argv.map((a) => (a === '--port' ? '--ws-port' : a.startsWith('--port=') ? `--ws-port=${a.slice(7)}` : a))
}
