import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** A free TCP port on 127.0.0.1 (free when asked; the caller binds it next). */
async function freePort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()))
  const port = (s.address() as { port: number }).port
  await new Promise((r) => s.close(r))
  return port
}

/** A redis-server of this test's own on loopback: no persistence; stop() ends it by its pid. */
export interface TestRedis {
  port: number
  url: string
  proc: ChildProcess
  /** Runs the real `redis-cli -p PORT ARGS...`; resolves with its output, trimmed. */
  cli(...args: string[]): Promise<string>
  stop(): Promise<void>
}

/** Starts Debian's redis-server on a free loopback port and waits until it accepts connections. */
export async function startRedis(): Promise<TestRedis> {
  const port = await freePort()
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  await new Promise<void>((resolve, reject) => {
    let out = ''
    proc.stdout?.on('data', (b: Buffer) => {
      out += b
      if (out.includes('Ready to accept connections')) resolve()
    })
    proc.once('error', reject)
    proc.once('exit', (code) => reject(new Error(`redis-server exited (${code}) before it was ready:\n${out}`)))
  })
  proc.stdout?.resume()
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    proc,
    async cli(...args) {
      const { stdout } = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), ...args])
      return stdout.trim()
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return
      const gone = new Promise((r) => proc.once('exit', r))
      process.kill(proc.pid as number, 'SIGTERM')
      await gone
    },
  }
}
