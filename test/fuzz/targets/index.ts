// Every fuzz target, in the order `npm run fuzz` runs them.
import type { FuzzTarget } from '../harness.ts'
import { bundleDecode, bundleRoundTrip, bundleVerify } from './bundle.ts'
import { chunksAssemble, chunksRoundTrip } from './chunks.ts'
import { framesDecode, framesRoundTrip } from './frames.ts'
import { gatewayAnswer, gatewayHandler } from './gateway.ts'
import { mapBatchDecode, mapBatchRoundTrip } from './map-batch.ts'
import { registryDecode, registryRoundTrip } from './registry.ts'
import { stateManagerFrames } from './state-manager.ts'
import { stateMessageDecode, stateMessageRoundTrip } from './state-messages.ts'
import { taskDecode, taskRoundTrip } from './task.ts'
import { updateLogLoad, updateLogRoundTrip } from './update-log.ts'

/** Every decoder's fuzz targets: hostile input, then the round trip of its encoder. */
export const TARGETS: FuzzTarget<unknown>[] = [
  registryDecode,
  registryRoundTrip,
  taskDecode,
  taskRoundTrip,
  framesDecode,
  framesRoundTrip,
  chunksAssemble,
  chunksRoundTrip,
  stateMessageDecode,
  stateMessageRoundTrip,
  stateManagerFrames,
  updateLogLoad,
  updateLogRoundTrip,
  bundleDecode,
  bundleRoundTrip,
  bundleVerify,
  gatewayHandler,
  gatewayAnswer,
  mapBatchDecode,
  mapBatchRoundTrip,
]
