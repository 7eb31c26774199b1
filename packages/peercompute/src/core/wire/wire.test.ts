import { prng, testSeed } from '@peercompute/kernels/testing'
import { describe, expect, it } from 'vitest'
import { ProtocolError, TrickledFrameError } from '../errors.js'
import { encodeFrame, FrameDecoder, MIN_PIECE_BYTES, TRICKLE_SLACK_PIECES } from './frames.js'
import { decodeRegistryMessage, encodeRegistryMessage, type RegistryMessage } from './registry.js'

const SEED = testSeed(0xfeed)

/** 200 random payloads of up to 300 bytes, and the stream of their frames. */
function framedStream(r: ReturnType<typeof prng>): { frames: Uint8Array[]; stream: Uint8Array } {
  const frames = Array.from({ length: 200 }, () => r.bytes(r.int(300)))
  return { frames, stream: Buffer.concat(frames.map((f) => encodeFrame(f))) }
}

/** Real peer ids: records carry only ids that parse. */
const IDS = [
  '12D3KooWPZafoiKxyEdJgp6pef7m5cpgTtaQS9eQHhEpek7CjRYo',
  '12D3KooWFanGwYrGaLX5fpdeMWr3qRG9e123PCMpzeTzk86vfdUs',
  '12D3KooWSzNAMgSZ86hXPmcDAXg7fLHCicsypzJQBGoVotzqCjxz',
  '12D3KooWMjvvmdRgH6DBkAh3RtvSFh6jKZmzpv5RsJ7p5fYxuj3U',
]

function randomMessage(r: ReturnType<typeof prng>): RegistryMessage {
  const id = IDS[r.int(IDS.length)]
  const caps = {
    cores: r.int(64),
    memoryMb: r.int(65536),
    gpu: r.int(2) === 1,
    kernels: ['crc32c', 'counteq', 'x'.repeat(r.int(60))].slice(0, r.int(4)),
    substrate: (['browser', 'node', 'gateway'] as const)[r.int(3)],
    price: { model: (['free', 'per-invocation', 'per-hour', 'per-gb'] as const)[r.int(4)], usd: r.int(1000) / 100 },
  }
  const load = { running: r.int(100), queued: r.int(1000) }
  const addrs = Array.from({ length: r.int(5) }, (_, i) => `/ip4/127.0.0.1/tcp/${1000 + i}/ws/p2p/${id}/p2p-circuit`)
  switch (r.int(8)) {
    case 0:
      return { type: 'announce', addrs, caps, load }
    case 1:
      return { type: 'heartbeat', load }
    case 2:
      return { type: 'subscribe' }
    case 3:
      return { type: 'join', peer: { id, addrs, caps, load } }
    case 4:
      return { type: 'update', peer: { id, addrs, caps, load } }
    case 5:
      return { type: 'leave', id }
    case 6:
      return {
        type: 'mesh',
        links: [
          { peer: id, transport: 'webrtc', rttMs: r.int(50) },
          { peer: id, transport: 'relayed' },
        ],
      }
    default:
      return { type: 'error', code: 'bad-announce', message: 'caps.cores must be an integer' }
  }
}

describe(`wire: frames and registry messages (SEED=${SEED})`, () => {
  it('random messages survive encode, framing, arbitrary chunking and decode', () => {
    const r = prng(SEED)
    const msgs = Array.from({ length: 300 }, () => randomMessage(r))
    const stream = msgs.map((m) => encodeFrame(encodeRegistryMessage(m)))
    const all = new Uint8Array(stream.reduce((n, f) => n + f.length, 0))
    let o = 0
    for (const f of stream) {
      all.set(f, o)
      o += f.length
    }
    const dec = new FrameDecoder()
    const out: RegistryMessage[] = []
    for (let i = 0; i < all.length; ) {
      const n = 1 + r.int(200)
      for (const frame of dec.push(all.subarray(i, i + n))) out.push(decodeRegistryMessage(frame))
      i += n
    }
    expect(out).toEqual(msgs)
    expect(dec.buffered).toBe(0)
  })

  it('copy: false: frames a chunk completes view it; what is left of it waits as a copy', () => {
    const r = prng(SEED + 3)
    const { frames, stream } = framedStream(r)
    const dec = new FrameDecoder(1024, { copy: false })
    const out: Uint8Array[] = []
    for (let i = 0; i < stream.length; ) {
      const n = 1 + r.int(700)
      // the stream reuses its buffer: a chunk's memory is overwritten once push returns
      const chunk = Uint8Array.from(stream.subarray(i, i + n))
      for (const f of dec.push(chunk)) out.push(f.slice()) // the consumer copies what it keeps, as the task protocol does
      chunk.fill(0xee)
      i += n
    }
    expect(out).toEqual(frames)
    expect(dec.buffered).toBe(0)
    // a frame inside one chunk is a view of it, not a copy
    const one = encodeFrame(Uint8Array.of(1, 2, 3))
    const [view] = new FrameDecoder(1024, { copy: false }).push(one)
    expect(view.buffer).toBe(one.buffer)
    const [copied] = new FrameDecoder(1024).push(one)
    expect(copied.buffer).not.toBe(one.buffer)
  })

  it("a list of parts (a stream message's chunks) is taken part by part: whole frames inside a part are views of it", () => {
    const r = prng(SEED + 4)
    const { frames, stream } = framedStream(r)
    const dec = new FrameDecoder(1024, { copy: false })
    const out: Uint8Array[] = []
    for (let i = 0; i < stream.length; ) {
      // a message of 1..4 parts, each a fresh buffer overwritten once push returns
      const parts: Uint8Array[] = []
      for (let k = 1 + r.int(4); k > 0 && i < stream.length; k--) {
        const n = 1 + r.int(500)
        parts.push(Uint8Array.from(stream.subarray(i, i + n)))
        i += n
      }
      for (const f of dec.push(parts)) out.push(f.slice())
      for (const p of parts) p.fill(0xee)
    }
    expect(out).toEqual(frames)
    expect(dec.buffered).toBe(0)
    // two whole frames in two parts: each a view of its own part, nothing joined
    const a = encodeFrame(Uint8Array.of(1, 2))
    const b = encodeFrame(Uint8Array.of(3))
    const got = new FrameDecoder(1024, { copy: false }).push([a, b])
    expect(got.map((f) => f.buffer)).toEqual([a.buffer, b.buffer])
  })

  it('a 64 KiB frame a byte at a time, or as a list of 1-byte parts, comes out whole (held bytes are not re-copied per byte)', () => {
    const r = prng(SEED + 5)
    const payload = r.bytes(64 * 1024)
    const framed = encodeFrame(payload)
    // the trickle limit off: this is about the work, not the policy (below)
    const dec = new FrameDecoder(64 * 1024, { copy: false, minPieceBytes: 0 })
    for (let i = 0; i < framed.length - 1; i++) {
      expect(dec.push(framed.subarray(i, i + 1))).toEqual([])
      expect(dec.buffered).toBe(i + 1)
    }
    const [whole] = dec.push(framed.subarray(framed.length - 1))
    expect(whole).toEqual(payload)
    expect(dec.buffered).toBe(0)
    const parts = Array.from(framed, (b) => Uint8Array.of(b))
    expect(new FrameDecoder(64 * 1024, { minPieceBytes: 0 }).push(parts)).toEqual([payload])
  })

  it('a frame may come in TRICKLE_SLACK_PIECES pieces plus one per minPieceBytes of it; a piece more is TrickledFrameError', () => {
    const r = prng(SEED + 6)
    for (let round = 0; round < 200; round++) {
      const min = [64, 256, MIN_PIECE_BYTES][r.int(3)]
      const size = r.int(16 * 1024)
      const framed = encodeFrame(r.bytes(size))
      const allowed = TRICKLE_SLACK_PIECES + Math.floor(size / min)
      // the frame cut into `pieces` pushes (each of ≥ 1 byte), the last one completing it
      const pieces = Math.min(framed.length, 1 + r.int(allowed + 8))
      const cuts = new Set<number>()
      while (cuts.size < pieces - 1) cuts.add(1 + r.int(framed.length - 1))
      const at = [0, ...[...cuts].sort((a, b) => a - b), framed.length]
      const dec = new FrameDecoder(64 * 1024, { minPieceBytes: min })
      const out: Uint8Array[] = []
      const push = () => {
        for (let i = 0; i + 1 < at.length; i++) out.push(...dec.push(framed.subarray(at[i], at[i + 1])))
      }
      // the completing push is no piece of an unfinished frame: pieces − 1 are counted
      if (pieces - 1 > allowed) expect(push).toThrow(TrickledFrameError)
      else {
        push()
        expect(out.length).toBe(1)
        expect(out[0].length).toBe(size)
      }
    }
    // a message's parts are one piece: the muxer, not the sender, cut them
    const framed = encodeFrame(new Uint8Array(4096))
    const parts = Array.from({ length: 64 }, (_, i) => framed.subarray(i * 64, (i + 1) * 64))
    const dec = new FrameDecoder(64 * 1024)
    expect(dec.push(parts)).toEqual([])
    expect(dec.push(framed.subarray(64 * 64))).toHaveLength(1)
    // a failed decoder refuses the rest
    const bad = new FrameDecoder(64 * 1024)
    expect(() => {
      for (let i = 0; i < 64; i++) bad.push(framed.subarray(i, i + 1))
    }).toThrow(/came in more than 20 pieces/)
    expect(() => bad.push(framed)).toThrow(ProtocolError)
  })

  it('frame lengths are bounded before anything is buffered', () => {
    const dec = new FrameDecoder(1024)
    expect(() => dec.push(encodeFrame(new Uint8Array(1025)).subarray(0, 3))).toThrow(/exceeds the limit of 1024/)
    expect(() => dec.push(new Uint8Array(1))).toThrow(ProtocolError) // a failed decoder stays failed
    expect(() => new FrameDecoder().push(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0x01))).toThrow(
      /longer than 5 bytes/,
    )
    expect(new FrameDecoder().push(encodeFrame(new Uint8Array(0)))).toEqual([new Uint8Array(0)])
  })

  it('malformed messages are ProtocolErrors naming the problem', () => {
    const enc = (type: number, body: string) => Uint8Array.from([type, ...new TextEncoder().encode(body)])
    const bad: Array<[Uint8Array, RegExp]> = [
      [new Uint8Array(0), /empty/],
      [enc(99, '{}'), /unknown registry message type 99/],
      [enc(1, 'not json'), /not UTF-8 JSON/],
      [Uint8Array.of(1, 0xff, 0xfe), /not UTF-8 JSON/],
      [enc(2, '[]'), /heartbeat must be an object/],
      [enc(2, '{"load":{"running":-1,"queued":0}}'), /load.running must be an integer/],
      [enc(6, `{"id":"${'x'.repeat(200)}"}`), /id longer than 128/],
      [enc(7, `{"links":${JSON.stringify(Array(300).fill({ peer: 'a', transport: 'tcp' }))}}`), /more than 256 items/],
      [enc(7, '{"links":[{"peer":"a","transport":"carrier-pigeon"}]}'), /transport must be one of/],
    ]
    for (const [bytes, msg] of bad) expect(() => decodeRegistryMessage(bytes)).toThrow(msg)
  })

  it('addresses that do not parse are dropped, the record kept; only canonical multiaddrs come out', () => {
    const [id, other] = IDS
    const enc = (type: number, body: unknown) =>
      Uint8Array.from([type, ...new TextEncoder().encode(JSON.stringify(body))])
    const caps = { cores: 1, memoryMb: 1, gpu: false, kernels: [], substrate: 'node', price: { model: 'free', usd: 0 } }
    const load = { running: 0, queued: 0 }
    const good = `/ip4/127.0.0.1/tcp/1/ws/p2p/${other}/p2p-circuit/p2p/${id}`
    const addrs = [
      'not-a-multiaddr',
      '',
      '/',
      '/ip4/1.2.3.4/tcp/99999',
      '/ip4/01.2.3.4/tcp/1',
      '/ip4/1.2.3.4/tcp/1/p2p/garbage',
      `/ip4/1.2.3.4/tcp/1/p2p/${other}`, // claims to be another peer
      good,
      good, // duplicates collapse
      '/ip6/::ffff:127.0.0.1/tcp/1', // kept, in canonical form
    ]
    const joined = decodeRegistryMessage(enc(4, { peer: { id, addrs, caps, load } }))
    expect(joined).toMatchObject({ type: 'join', peer: { id, addrs: [good, '/ip6/::ffff:7f00:1/tcp/1'] } })
    const announced = decodeRegistryMessage(enc(1, { addrs, caps, load }))
    // the relay does not know the sender's id from the message: another peer's id is kept for it to judge
    expect(announced).toMatchObject({ addrs: [`/ip4/1.2.3.4/tcp/1/p2p/${other}`, good, '/ip6/::ffff:7f00:1/tcp/1'] })
    // a record's identity must be a peer id: that refuses the record
    expect(() => decodeRegistryMessage(enc(5, { peer: { id: 'peer-1', addrs: [], caps, load } }))).toThrow(
      /peer.id is not a peer id/,
    )
    // the shape is still strict
    expect(() => decodeRegistryMessage(enc(1, { addrs: [7], caps, load }))).toThrow(/addrs\[0\] must be a string/)
    expect(() => decodeRegistryMessage(enc(1, { addrs: Array(33).fill(good), caps, load }))).toThrow(/more than 32/)
  })

  it('random bytes never crash the decoders: a ProtocolError or a valid message', () => {
    const r = prng(SEED + 1)
    for (let i = 0; i < 2000; i++) {
      const junk = r.bytes(r.int(300))
      if (r.int(2)) junk[0] = 1 + r.int(8)
      try {
        decodeRegistryMessage(junk)
      } catch (err) {
        expect(err, `SEED=${SEED} i=${i}`).toBeInstanceOf(ProtocolError)
      }
      try {
        new FrameDecoder(4096).push(junk)
      } catch (err) {
        expect(err).toBeInstanceOf(ProtocolError)
      }
    }
  })
})
