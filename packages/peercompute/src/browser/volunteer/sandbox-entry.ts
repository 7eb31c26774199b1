// Traveling code for a volunteer that trusts publishers (`data-trust`): the
// sandboxes (browser/compute/sandbox/) under the volunteer's CPU cap. The node
// chunk imports this file only when trust is set, so it is a chunk of its own
// that a volunteer without trust never loads.
import type { CodePool } from '../../core/code/code-store.js'
import type { DutyCycle } from '../../core/compute/duty-cycle.js'
import { DutyCycledPool } from '../../core/compute/duty-cycled-pool.js'
import { SandboxPool } from '../compute/sandbox/sandbox-pool.js'

/** Sandboxes for signed kernels, at most `maxWorkers` running at once, each held to the cycle's cap and pause. */
export function createVolunteerCodePool(maxWorkers: number, duty: DutyCycle): CodePool {
  const sandboxes = new SandboxPool({ maxWorkers })
  return new DutyCycledPool(sandboxes, duty, { lanes: sandboxes.maxWorkers })
}
