#!/usr/bin/env node
// Runs a command inside a fresh network namespace whose only interface is
// loopback, then deletes the namespace. WebRTC gathers candidates on every
// interface; in here the only one is lo, so tests can send traffic nowhere but
// 127.0.0.1 and ::1. Needs root and iproute2 (CI has both). Without them the
// command runs as is, and the tests that need the namespace skip (or fail, with
// PEERCOMPUTE_REQUIRE_NETNS=1).
import { spawn, spawnSync } from 'node:child_process'

const cmd = process.argv.slice(2)
if (cmd.length === 0) {
  console.error('usage: netns-run.js COMMAND [ARGS...]')
  process.exit(2)
}
const name = `pc-test-${process.pid}`
const ip = (...args) => spawnSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' })

let inNs = false
if (typeof process.getuid === 'function' && process.getuid() === 0 && ip('netns', 'add', name).status === 0) {
  inNs = ip('-n', name, 'link', 'set', 'lo', 'up').status === 0
  if (!inNs) ip('netns', 'del', name)
}
if (!inNs) console.warn('netns-run: no network namespace (needs root and iproute2); running without one')

const child = inNs
  ? spawn('ip', ['netns', 'exec', name, ...cmd], { stdio: 'inherit' })
  : spawn(cmd[0], cmd.slice(1), { stdio: 'inherit' })
const cleanup = () => {
  if (inNs) ip('netns', 'del', name)
}
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => child.kill(sig))
child.on('exit', (code, signal) => {
  cleanup()
  process.exit(code ?? (signal ? 1 : 0))
})
