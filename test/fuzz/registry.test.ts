import { fuzzSuite } from './suite.ts'
import { registryDecode, registryRoundTrip } from './targets/registry.ts'

fuzzSuite('registry messages', [registryDecode, registryRoundTrip], 0x5e61)
