import { fuzzSuite } from './suite.ts'
import { taskDecode, taskRoundTrip } from './targets/task.ts'

fuzzSuite('task messages', [taskDecode, taskRoundTrip], 0x7a5c)
