// Fuzz target of the y-protocols sync and awareness handling inside
// StateManager (core/state/state-manager.ts), driven through an in-memory link:
// hostile frames may only cut the session, never throw out of onMessage,
// never leave an unhandled error, and never touch the document when they are refused.
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import * as encoding from 'lib0/encoding'
import { encodeStateMessage, type StateLink, StateManager, type StateMessage, toChunks } from 'peercompute'
import * as awarenessProtocol from 'y-protocols/awareness'
import * as syncProtocol from 'y-protocols/sync'
import * as Y from 'yjs'
import { ensure, FuzzFailure, target } from '../harness.ts'
import { applyEdits, byteEdit } from '../mutate.ts'

const ROOM = 'fuzz-room'
const ATTACKER = '12D3KooWEfmTxx7CynBTcRedahFmsUmhkYg4MaPpVnjKQ33Lo9VB'

/** Documents with content of every shared type, made the same way every run (fixed client ids). */
function sourceDocs(): Y.Doc[] {
  return [1, 2, 3].map((n) => {
    const d = new Y.Doc()
    d.clientID = 1000 + n
    d.getMap('m').set('k', n)
    d.getMap('m').set('nested', new Y.Map())
    d.getArray('a').insert(0, [1, 'two', { three: 3 }, new Uint8Array([4])])
    d.getText('t').insert(0, 'hello '.repeat(n))
    if (n > 1) d.getText('t').delete(1, 2)
    if (n > 2) d.getMap('m').delete('k')
    return d
  })
}

function sync(write: (e: encoding.Encoder) => void): Uint8Array {
  const e = encoding.createEncoder()
  write(e)
  return encoding.toUint8Array(e)
}

/** A sync or awareness message. */
type Payload = Exclude<StateMessage, { kind: 'join' }>

/** The first source document as the victim starts with it: incremental updates of it then integrate. */
let BASE: Uint8Array = new Uint8Array(0)

/** Valid sync and awareness payloads: step 1, step 2, updates (whole and incremental), presence. */
const PAYLOADS: Payload[] = (() => {
  const out: Payload[] = []
  for (const d of sourceDocs()) {
    if (BASE.length === 0) BASE = Y.encodeStateAsUpdate(d)
    out.push({ kind: 'sync', payload: sync((e) => syncProtocol.writeSyncStep1(e, d)) })
    out.push({ kind: 'sync', payload: sync((e) => syncProtocol.writeSyncStep2(e, d)) })
    out.push({ kind: 'sync', payload: sync((e) => syncProtocol.writeUpdate(e, Y.encodeStateAsUpdate(d))) })
    const sv = Y.encodeStateVector(d)
    d.getArray('a').push(['later'])
    out.push({ kind: 'sync', payload: sync((e) => syncProtocol.writeUpdate(e, Y.encodeStateAsUpdate(d, sv))) })
    const a = new awarenessProtocol.Awareness(d)
    for (const state of [
      { peer: ATTACKER },
      {
        peer: ATTACKER,
        caps: { cores: 4, memoryMb: 1024, gpu: false, kernels: ['crc32c'], substrate: 'node' },
        load: { running: 0, queued: 0 },
      },
      { peer: 'someone else', evil: 'x'.repeat(300) },
      null,
    ]) {
      a.setLocalState(state)
      out.push({ kind: 'awareness', payload: awarenessProtocol.encodeAwarenessUpdate(a, [d.clientID]) })
    }
    a.destroy()
  }
  return out
})()

/** What the attacker sends, one state message at a time. */
const message = fc.oneof(
  { weight: 3, arbitrary: fc.nat(PAYLOADS.length - 1).map((i) => ({ message: PAYLOADS[i] })) },
  {
    weight: 6,
    arbitrary: fc
      .tuple(fc.nat(PAYLOADS.length - 1), fc.array(byteEdit, { minLength: 1, maxLength: 3 }))
      .map(([i, edits]) => ({ message: { ...PAYLOADS[i], payload: applyEdits(PAYLOADS[i].payload, edits) } })),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom('sync' as const, 'awareness' as const), fc.uint8Array({ maxLength: 64 }))
      .map(([kind, payload]) => ({ message: { kind, payload } as Payload })),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((frame) => ({ frame })) },
)

const JOIN = toChunks(encodeStateMessage({ kind: 'join', room: ROOM, proof: new Uint8Array(0) }))

/** A link whose other end is the test: it hands frames to the manager and records whether it was closed. */
function fakeLink(): { link: StateLink; deliver: (frame: Uint8Array) => void; readonly closed: boolean } {
  let onMessage: ((frame: Uint8Array) => void) | undefined
  let closed = false
  const link: StateLink = {
    remotePeer: ATTACKER,
    send() {},
    onMessage: (cb) => {
      onMessage = cb
    },
    onClose() {},
    close: () => {
      closed = true
    },
  }
  return {
    link,
    deliver: (frame) => onMessage?.(frame),
    get closed() {
      return closed
    },
  }
}

/**
 * A StateManager with a document of its own, joined by an attacker (mostly
 * with a valid join first) that sends valid, edited and random sync and
 * awareness messages: delivering a frame never throws, nothing is left
 * unhandled, from the frame that cuts the session on the document does not
 * change, and afterwards a local change is still an update.
 */
export const stateManagerFrames = target({
  name: 'state.manager.frames',
  async: true,
  arbitrary: fc.record({ join: fc.boolean(), messages: fc.array(message, { minLength: 1, maxLength: 6 }) }),
  async check({ join, messages }) {
    const sm = new StateManager({ room: ROOM, selfId: 'victim', maxMessageBytes: 64 << 10 })
    Y.applyUpdate(sm.doc, BASE)
    sm.map('m').set('own', 'value')
    sm.text('t').insert(0, 'victim text')
    let cut = false
    sm.addEventListener('state:refused', () => {
      cut = true
    })
    const end = fakeLink()
    // a document's identity: its state vector and delete set (Yjs content never changes in place)
    const identity = () => Y.encodeSnapshot(Y.snapshot(sm.doc))
    try {
      sm.attach(end.link)
      const frames = [
        ...(join ? JOIN : []),
        ...messages.flatMap((m) => ('frame' in m ? [m.frame] : toChunks(encodeStateMessage(m.message)))),
      ]
      let atCut: Uint8Array | undefined
      for (const frame of frames) {
        const before = atCut ?? identity()
        try {
          end.deliver(frame)
        } catch (err) {
          throw new FuzzFailure(`onMessage threw: ${(err as Error)?.stack ?? err}`)
        }
        if (cut) {
          atCut ??= before
          ensure(isDeepStrictEqual(identity(), atCut), 'a refused message touched the document')
        }
      }
      ensure(!cut || end.closed, 'a cut session was not closed')
      // the document still works: a local change is an update (that peers and storage hear of)
      let updates = 0
      sm.doc.on('update', () => updates++)
      sm.map('m').set('after the attack', frames.length)
      ensure(updates === 1, 'the document no longer emits updates after the attack')
    } finally {
      sm.stop()
    }
  },
})
