import { fuzzSuite } from './suite.ts'
import { mapBatchDecode, mapBatchRoundTrip } from './targets/map-batch.ts'

fuzzSuite('map batches', [mapBatchDecode, mapBatchRoundTrip], 0x3ab7)
