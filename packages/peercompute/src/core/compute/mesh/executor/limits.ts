import { InvalidOptionError } from '../../../errors.js'

/**
 * The executor's limits: every one bounds what other peers can make this peer
 * do. Per-peer limits keep one peer from taking everything; node-wide limits
 * bound what all peers together can take, so new peer ids (which cost nothing)
 * buy nothing. A task counts against them from its request frame until its
 * result is sent (or it fails).
 */
export interface TaskLimits {
  /** Largest input of one task, bytes (default 64 MiB). */
  maxInputBytes: number
  /** Largest output of one task, bytes (default 64 MiB). */
  maxOutputBytes: number
  /** Tasks one peer may have admitted here: receiving input, waiting or running (default 64). */
  maxInflightPerPeer: number
  /** Requests one peer may send per second, sustained (default 20,000; bursts of as many). */
  requestsPerSecondPerPeer: number
  /** Longest deadline honoured, ms, counted from the request; longer ones are cut to it (default 300,000). */
  maxDeadlineMs: number
  /** Inline input bytes one peer may have declared and not yet finished with (default 256 MiB). */
  maxBufferedBytesPerPeer: number
  /** Built-ins over inline inputs up to this size run on the executor's thread, skipping the worker hop (default 64 KiB). */
  inlineMaxBytes: number
  /** Node-wide: input and output bytes held for all peers together (default 512 MiB). Input is held as it arrives. */
  maxBytesHeld: number
  /** Node-wide: tasks admitted for all peers together (default 512). */
  maxTasks: number
  /** Node-wide: share of the worker pool that URL-sourced tasks (slow fetches) may occupy at once, at least one worker (default 0.5). */
  urlPoolShare: number
  /** Node-wide: task streams open from all peers together (default 256). */
  maxStreams: number
  /** Task streams one peer may have open, over all its connections (default 16). */
  maxStreamsPerPeer: number
  /** A task whose input stops arriving for this long is dropped, ms (default 30,000). */
  inputIdleMs: number
  /** A task stream with no task for this long is closed, freeing its place among `maxStreams`, ms (default 60,000). */
  streamIdleMs: number
  /**
   * Refusals (typed errors for refused requests or bad frames) one peer may
   * get per second, sustained (default 100), after a burst of
   * `refusalBurstPerPeer` (default 1,000). Past them the peer hears nothing
   * more: its stream is reset and it is cut off.
   */
  refusalsPerSecondPerPeer: number
  /** See `refusalsPerSecondPerPeer`. */
  refusalBurstPerPeer: number
  /** How long a cut-off peer's task streams are reset on sight, ms (default 60,000). */
  cutOffMs: number
}

/** The executor's defaults (see `TaskLimits` for what each bounds). */
export const TASK_LIMITS: Readonly<TaskLimits> = Object.freeze({
  maxInputBytes: 64 * 1024 * 1024,
  maxOutputBytes: 64 * 1024 * 1024,
  maxInflightPerPeer: 64,
  requestsPerSecondPerPeer: 20_000,
  maxDeadlineMs: 300_000,
  maxBufferedBytesPerPeer: 256 * 1024 * 1024,
  inlineMaxBytes: 64 * 1024,
  maxBytesHeld: 512 * 1024 * 1024,
  maxTasks: 512,
  urlPoolShare: 0.5,
  maxStreams: 256,
  maxStreamsPerPeer: 16,
  inputIdleMs: 30_000,
  streamIdleMs: 60_000,
  refusalsPerSecondPerPeer: 100,
  refusalBurstPerPeer: 1000,
  cutOffMs: 60_000,
})

/** How often an executor with tasks on a stream says it is alive (the submitter gives up after TASK_SILENCE_MS). */
export const ALIVE_MS = 1000

/** The defaults with `overrides` applied; a limit that is not a positive number is an `InvalidOptionError`. */
export function resolveLimits(overrides: Partial<TaskLimits> = {}): TaskLimits {
  if (typeof overrides !== 'object' || overrides === null) throw new InvalidOptionError('limits must be an object')
  const out: TaskLimits = { ...TASK_LIMITS }
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue
    if (!Object.hasOwn(TASK_LIMITS, key)) throw new InvalidOptionError(`limits.${key} is not a task limit`)
    if (typeof value !== 'number' || !(value > 0))
      throw new InvalidOptionError(`limits.${key} must be a positive number`)
    if (key === 'urlPoolShare' && value > 1) throw new InvalidOptionError('limits.urlPoolShare must be at most 1')
    out[key as keyof TaskLimits] = value
  }
  return out
}
