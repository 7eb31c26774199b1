import type { VolunteerNode, VolunteerNodeInit } from './node-entry.js'

/** The file name of the node chunk, beside the loader. */
export const NODE_CHUNK = 'peercompute.volunteer.node.js'

/**
 * Loads the node chunk from `url` and starts a node: the one place the loader
 * starts a node (one node per site goes through here: the tab leader calls it).
 */
export async function startNode(url: string, init: VolunteerNodeInit): Promise<VolunteerNode> {
  const mod = (await import(/* @vite-ignore */ url)) as typeof import('./node-entry.js')
  return mod.startVolunteerNode(init)
}
