import { fuzzSuite } from './suite.ts'
import { stateManagerFrames } from './targets/state-manager.ts'
import { stateMessageDecode, stateMessageRoundTrip } from './targets/state-messages.ts'

fuzzSuite('state messages and sync', [stateMessageDecode, stateMessageRoundTrip, stateManagerFrames], 0x57a7)
