// An attacker that poses as an executor: it serves the task protocol with
// answers of its choosing and announces itself to a real relay with every
// built-in kernel, so honest submitters may place work on it.
import type { Stream } from '@libp2p/interface'
import {
  decodeTaskMessage,
  encodeFrame,
  encodeRegistryMessage,
  FrameDecoder,
  type NodeKernel,
  REGISTRY_PROTOCOL,
  TASK_FRAME_MAX,
  TASK_PROTOCOL,
  type TaskRequestHeader,
} from 'peercompute'
import { waitFor } from '../integration/helpers.js'
import { type Attacker, startAttacker } from './attacker.js'

/** What the rogue sends back for request `id`: encoded task messages (empty: say nothing). */
export type Answer = (id: number, header: TaskRequestHeader) => Uint8Array[]

/**
 * Starts a rogue executor answering every request with `answer`, registers it
 * on the relay at `relayTcpAddr`, and resolves once `submitter` counts it as a
 * candidate. With `trickle`, each answer goes out a byte per send (a muxer
 * data frame each). The caller stops it.
 */
export async function startRogueExecutor(
  relayTcpAddr: string,
  submitter: NodeKernel,
  answer: Answer,
  opts: { trickle?: boolean } = {},
): Promise<Attacker> {
  const att = await startAttacker({ listen: ['/ip4/127.0.0.1/tcp/0'] })
  await att.node.handle(
    TASK_PROTOCOL,
    (stream: Stream) => {
      const decoder = new FrameDecoder(TASK_FRAME_MAX)
      stream.addEventListener('message', (e) => {
        try {
          for (const f of decoder.push(e.data.subarray())) {
            const m = decodeTaskMessage(f)
            if (m.type !== 'request') continue // input data and cancels: ignored
            for (const out of answer(m.id, m.header)) {
              const framed = encodeFrame(out)
              if (!opts.trickle) stream.send(framed)
              else
                for (let i = 0; i < framed.length && stream.status === 'open'; i++)
                  stream.send(framed.subarray(i, i + 1))
            }
          }
        } catch {
          // the attacker does not care about the victim's framing
        }
      })
    },
    { runOnLimitedConnection: true },
  )
  const addr = att.node
    .getMultiaddrs()
    .map((a) => a.toString())
    .find((a) => a.startsWith('/ip4/127.0.0.1/tcp/')) as string
  const registry = await att.open(relayTcpAddr, REGISTRY_PROTOCOL)
  registry.frame(
    encodeRegistryMessage({
      type: 'announce',
      addrs: [addr],
      caps: {
        cores: 16,
        memoryMb: 1 << 20,
        gpu: true,
        kernels: ['counteq', 'crc32c', 'fnv64', 'xor', 'add'],
        substrate: 'node',
        price: { model: 'free', usd: 0 },
      },
      load: { running: 0, queued: 0 },
    }),
  )
  await waitFor('the submitter may place work on the rogue', () =>
    submitter.compute.candidates().some((c) => c.id === att.peerId),
  )
  return att
}
