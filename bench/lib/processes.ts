// Child processes for benchmarks: started, measured and stopped by their pid.
import { type ChildProcess, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const children = new Set<ChildProcess>()
const killChildren = () => {
  for (const c of children) c.kill('SIGKILL')
}
process.on('exit', killChildren)
// a crash must not leave children behind: kill them, report, exit 1
process.on('uncaughtException', (err) => {
  console.error('uncaught exception:', err)
  killChildren()
  process.exit(1)
})

/** Registers a child to be SIGKILLed when this process exits or crashes. */
export function killOnExit(proc: ChildProcess): ChildProcess {
  children.add(proc)
  proc.once('exit', () => children.delete(proc))
  return proc
}

/** Resident memory of a process in MiB (Linux). */
export function rssMiB(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1])
  return kb / 1024
}

/** Starts the relay process on free ports; resolves with its addresses once it listens. */
export async function startRelayProcess(identity: string, extra: string[] = []) {
  const main = fileURLToPath(new URL('../../relay/dist/main.js', import.meta.url))
  const args = [main, '--ws-port', '0', '--tcp-port', '0', '--http-port', '0', '--identity', identity, ...extra]
  const proc = killOnExit(spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] }))
  let out = ''
  proc.stdout?.on('data', (d: Buffer) => {
    out += d.toString()
  })
  const t0 = Date.now()
  while (!/http api: /.test(out)) {
    if (Date.now() - t0 > 15_000 || proc.exitCode !== null) throw new Error(`relay did not start:\n${out}`)
    await new Promise((r) => setTimeout(r, 50))
  }
  const addr = (re: RegExp) => re.exec(out)?.[1] as string
  return {
    proc,
    pid: proc.pid as number,
    tcpAddr: addr(/listening: (\/ip4\/\S+\/tcp\/\d+\/p2p\/\S+)/),
    wsAddr: addr(/listening: (\/ip4\/\S+\/tcp\/\d+\/ws\/p2p\/\S+)/),
    httpUrl: addr(/http api: (http:\/\/\S+)\/healthz/),
    /** Bearer token of /api/peers and /api/mesh (printed when the relay made it). */
    token: addr(/http api token created: \S+ \(mode 0600\): (\S+)/),
    stop: () => stopProcess(proc),
  }
}

/** SIGTERM, then SIGKILL after 5 s; resolves when it has exited. */
export async function stopProcess(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const exited = new Promise<void>((r) => proc.once('exit', () => r()))
  proc.kill('SIGTERM')
  const t = setTimeout(() => proc.kill('SIGKILL'), 5000)
  await exited
  clearTimeout(t)
}
