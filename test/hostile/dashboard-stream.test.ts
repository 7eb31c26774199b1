// Attacks on the relay's dashboard stream (GET /api/dashboard/stream): too many streams from one IP and from
// many, a client that never reads, streams opened and dropped in a loop, and every way of asking for peers'
// addresses without the token. The relay keeps its budgets, frees every slot, and shows no address without it.
import { get, type IncomingMessage, type Server } from 'node:http'
import { connect } from 'node:net'
import { createAdaptorServer } from '@hono/node-server'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { DashboardStreams, type Relay, startRelay } from '@peercompute/relay'
import { Hono } from 'hono'
import { afterEach, describe, expect, it } from 'vitest'
import { loopbackOnly, startPeers, waitFor } from '../integration/helpers.js'
import { watchUnhandled } from './attacker.js'

const cleanups: Array<() => Promise<unknown> | unknown> = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => {})
})

function noUnhandled(): { errors: unknown[] } {
  const w = watchUnhandled()
  cleanups.push(() => w.stop())
  return w
}

async function relayUp(dashboardStream: Parameters<typeof startRelay>[0]['dashboardStream'] = {}): Promise<Relay> {
  const relay = await startRelay({ privateKey: await generateKeyPair('Ed25519'), dashboardStream, dashboardDir: null })
  cleanups.push(() => relay.stop())
  return relay
}

/** An open stream: its status, the text received so far, and how to drop it. */
interface Opened {
  status: number
  res: IncomingMessage
  text: () => string
  ended: Promise<void>
  close(): void
}

/** Opens the stream from `localAddress` (any 127.0.0.0/8 address is one more "client IP" on loopback). */
function open(url: string, localAddress = '127.0.0.1', headers: Record<string, string> = {}): Promise<Opened> {
  return new Promise((resolve, reject) => {
    const req = get(url, { localAddress, headers, agent: false }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => {
        text += d
      })
      const ended = new Promise<void>((r) => res.once('close', () => r()))
      resolve({ status: res.statusCode ?? 0, res, text: () => text, ended, close: () => req.destroy() })
    })
    req.once('error', reject)
    cleanups.push(() => req.destroy())
  })
}

describe.skipIf(!loopbackOnly)('hostile: the dashboard stream', () => {
  it('caps streams per IP and in all (503), frees the slot of a dropped stream, and ends all on stop', async () => {
    const unhandled = noUnhandled()
    const relay = await relayUp({ maxStreams: 4, maxStreamsPerIp: 2 })
    const url = `${relay.httpUrl}/api/dashboard/stream`
    const a = [await open(url), await open(url)]
    expect(a.map((s) => s.status)).toEqual([200, 200])
    const third = await open(url)
    expect(third.status).toBe(503)
    expect(third.res.headers['retry-after']).toBe('10')
    await third.ended
    expect(JSON.parse(third.text()).error).toMatch(/too many dashboard streams/)
    // another IP has its own budget, until the process-wide one is spent
    const b = [await open(url, '127.0.0.2'), await open(url, '127.0.0.2')]
    expect(b.map((s) => s.status)).toEqual([200, 200])
    expect((await open(url, '127.0.0.3')).status).toBe(503)
    expect(relay.http.dashboardStreams).toBe(4)
    await waitFor('every stream has its first snapshot', () => [...a, ...b].every((s) => s.text().includes('snapshot')))

    // a dropped stream gives its slot back
    a[0].close()
    await waitFor('the dropped stream is released', () => relay.http.dashboardStreams === 3)
    expect((await open(url, '127.0.0.3')).status).toBe(200)

    // open and drop in a loop: no slot leaks
    for (let i = 0; i < 20; i++) {
      a[1].close()
      await waitFor('released', () => relay.http.dashboardStreams === 3)
      a[1] = await open(url)
      expect(a[1].status).toBe(200)
    }
    await relay.stop()
    await Promise.all([a[1].ended, ...b.map((s) => s.ended)])
    expect(relay.http.dashboardStreams).toBe(0)
    expect(unhandled.errors).toEqual([])
  })

  it('cuts off a client that never reads once a write waits past its timeout, and frees its slot', async () => {
    const unhandled = noUnhandled()
    // a large snapshot, often: the socket's buffers fill quickly
    const big = { blob: 'x'.repeat(256 << 10) }
    let made = 0
    const streams = new DashboardStreams(
      { maxStreams: 4, maxStreamsPerIp: 4, intervalMs: 5, writeTimeoutMs: 300, maxLinks: 10 },
      () => {
        made++
        return big
      },
    )
    const app = new Hono()
    app.get('/s', (c) => streams.handle(c, '127.0.0.1', false))
    const server = createAdaptorServer({ fetch: app.fetch }) as Server
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())))
    cleanups.push(() => server.closeAllConnections())
    cleanups.push(() => streams.stop())
    const port = (server.address() as { port: number }).port

    const sock = connect({ host: '127.0.0.1', port })
    cleanups.push(() => sock.destroy())
    sock.pause() // never reads
    sock.write(`GET /s HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`)
    await waitFor('the stream opens', () => streams.size === 1)
    await waitFor('the stuck client is cut off', () => streams.size === 0, 30_000)
    // the server cut it (the client never closed), and only after a write had waited its timeout
    expect(sock.destroyed).toBe(false)
    expect(streams.cutOff).toBe(1)
    expect(made).toBeGreaterThan(1)
    expect(unhandled.errors).toEqual([])
  })

  it('never shows an address without the token, however it is asked for', async () => {
    const unhandled = noUnhandled()
    const relay = await relayUp()
    const tcp = relay.multiaddrs.find((m) => !m.toString().includes('/ws'))?.toString() as string
    const peers = await startPeers(2, tcp)
    cleanups.push(() => Promise.all(peers.map((p) => p.stop())))
    await waitFor(
      'both peers registered with addresses',
      () => [...relay.registry.peers.values()].filter((e) => e.record.addrs.length > 0).length === 2,
    )
    const addrs = [...relay.registry.peers.values()].flatMap((e) => e.record.addrs)
    const url = `${relay.httpUrl}/api/dashboard/stream`
    const first = async (s: Opened) => {
      await waitFor('a snapshot', () => /\n\n/.test(s.text()))
      s.close()
      const data = /^data: (.*)$/m.exec(s.text())?.[1] as string
      return { raw: s.text(), snap: JSON.parse(data) }
    }
    const bearer = (v: string) => ({ authorization: v })
    const refused: Array<[string, Record<string, string>?]> = [
      [url],
      [`${url}?token=`],
      [`${url}?token=${relay.token}x`],
      [`${url}?token=${relay.token.toUpperCase()}`],
      [`${url}?token=${relay.token}&token=${relay.token}`],
      [`${url}?token=${relay.token}x&token=${relay.token}`],
      [url, bearer(`Bearer ${relay.token}x`)],
      [url, bearer(relay.token)],
      [url, bearer(`Basic ${relay.token}`)],
      [url, { 'x-forwarded-for': '127.0.0.1', authorization: 'Bearer' }],
    ]
    for (const [u, headers] of refused) {
      const s = await open(u, '127.0.0.1', headers)
      expect(s.status).toBe(200)
      const { raw, snap } = await first(s)
      expect(snap.peers).toHaveLength(2)
      expect(snap.peers.every((p: object) => !('addrs' in p))).toBe(true)
      for (const a of addrs) expect(raw).not.toContain(a)
      expect(raw).not.toMatch(/\/ip[46]\/|\/dns/)
    }
    for (const [u, headers] of [[`${url}?token=${relay.token}`], [url, bearer(`Bearer ${relay.token}`)]] as const) {
      const { snap } = await first(await open(u, '127.0.0.1', headers))
      expect(snap.peers.flatMap((p: { addrs: string[] }) => p.addrs).sort()).toEqual([...addrs].sort())
    }
    // the other address-free routes stay address-free
    for (const p of ['/api/capacity', '/healthz']) {
      const text = await (await fetch(`${relay.httpUrl}${p}`)).text()
      for (const a of addrs) expect(text).not.toContain(a)
    }
    expect(unhandled.errors).toEqual([])
  })
})
