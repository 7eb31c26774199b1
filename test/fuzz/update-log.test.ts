import { fuzzSuite } from './suite.ts'
import { updateLogLoad, updateLogRoundTrip } from './targets/update-log.ts'

fuzzSuite('the update log', [updateLogLoad, updateLogRoundTrip], 0x109a)
