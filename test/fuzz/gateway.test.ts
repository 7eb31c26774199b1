import { fuzzSuite } from './suite.ts'
import { gatewayAnswer, gatewayHandler } from './targets/gateway.ts'

fuzzSuite('gateway wire format', [gatewayHandler, gatewayAnswer], 0x6a7e)
