import type { DataChannel, PeerConnection } from 'node-datachannel'
import { RTCPeerConnection } from 'node-datachannel/polyfill'
import { describe, expect, it } from 'vitest'
import { releasingRtcConfiguration } from './rtc-release.js'

type Config = ReturnType<ReturnType<typeof releasingRtcConfiguration>> & { peerConnection: PeerConnection }

/** Counts close() calls on a native data channel (an own property shadows the read-only native method). */
function countCloses(dc: DataChannel): () => number {
  let n = 0
  const native = Object.getPrototypeOf(dc).close as () => void
  Object.defineProperty(dc, 'close', {
    value: () => {
      n++
      native.call(dc)
    },
  })
  return () => n
}

describe('releasingRtcConfiguration', () => {
  const loopback = { iceServers: [], bindAddress: '127.0.0.1' }

  it('closing a connection closes the data channels made on it, also one that never opened', () => {
    const config = releasingRtcConfiguration(loopback)() as Config
    const pc = config.peerConnection
    expect(config.peerConnection).toBe(pc) // one connection per config
    const closes = [pc.createDataChannel('init'), pc.createDataChannel('stream')].map(countCloses)
    pc.close()
    expect(closes.map((n) => n())).toEqual([1, 1])
  })

  it('node-datachannel’s RTCPeerConnection uses it: its close() reaches the channels too', () => {
    const config = releasingRtcConfiguration(loopback)() as Config
    const rtc = new RTCPeerConnection(config as never)
    const closes = countCloses(config.peerConnection.createDataChannel('init'))
    rtc.close()
    expect(closes()).toBe(1)
  })

  it('gives a fresh config each time: what libp2p and the polyfill write into one stays out of the others', () => {
    const make = releasingRtcConfiguration({ iceServers: [{ urls: 'stun:127.0.0.1:3478' }] })
    const a = make() as Config & { iceTransportPolicy?: string }
    a.iceTransportPolicy = 'relay'
    ;(a.iceServers as Array<{ urls: string | string[] }>)[0].urls = ['stun:127.0.0.2:3478']
    const b = make() as Config & { iceTransportPolicy?: string }
    expect(b.iceTransportPolicy).toBeUndefined()
    expect(b.iceServers).toEqual([{ urls: 'stun:127.0.0.1:3478' }])
    // copies of a config (libp2p spreads it) make no connection
    expect(Object.keys(b)).not.toContain('peerConnection')
    expect(make()).not.toBe(b)
  })
})
