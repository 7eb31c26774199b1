import type { LocalCompute } from '../compute/local-compute.js'
import type { NetworkManager, NetworkManagerInit } from '../network/network-manager.js'
import { StateManager } from '../state/state-manager.js'
import { NodeKernel, type NodeKernelInit } from './node-kernel.js'
import type { NodeOptions } from './options.js'

/** What a platform's createNode supplies; the wiring between the parts is the same everywhere. */
export interface AssembleInit {
  options: NodeOptions
  local: LocalCompute
  /** Makes the platform's network; it reads capabilities and load from the node at each announcement. */
  createNetwork(hooks: Pick<NetworkManagerInit, 'capabilities' | 'load'>): Promise<NetworkManager>
  substrate: NodeKernelInit['substrate']
  /** Where traveling code runs (Node: worker threads with resource limits). */
  codePool?: NodeKernelInit['codePool']
  memoryMb: number
  /** Given the room name, what loads and keeps the state (`storageMode: 'local'`). */
  storage?: (room: string) => NodeKernelInit['openStorage']
}

/** Builds a NodeKernel from a platform's parts; on failure releases what it made. */
export async function assembleNode(init: AssembleInit): Promise<NodeKernel> {
  const { options, local } = init
  let kernel: NodeKernel | undefined
  const network = await init
    .createNetwork({
      capabilities: () => (kernel as NodeKernel).capabilities(),
      load: () => (kernel as NodeKernel).load(),
    })
    .catch(async (err) => {
      await Promise.all([local.stop(), init.codePool?.stop()])
      throw err
    })
  const room = options.room ?? 'peercompute'
  const state = new StateManager({
    room,
    selfId: network.peerId,
    membership: options.membership,
    limits: options.stateLimits,
    log: options.log,
  })
  kernel = new NodeKernel({
    options,
    network,
    state,
    local,
    substrate: init.substrate,
    codePool: init.codePool,
    memoryMb: init.memoryMb,
    openStorage: options.storageMode === 'local' ? init.storage?.(room) : undefined,
  })
  return kernel
}
