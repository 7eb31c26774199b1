import { fuzzSuite } from './suite.ts'
import { chunksAssemble, chunksRoundTrip } from './targets/chunks.ts'
import { framesDecode, framesRoundTrip } from './targets/frames.ts'

fuzzSuite('frames and chunk reassembly', [framesDecode, framesRoundTrip, chunksAssemble, chunksRoundTrip], 0xf4a3)
