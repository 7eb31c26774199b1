import { fuzzSuite } from './suite.ts'
import { bundleDecode, bundleRoundTrip, bundleVerify } from './targets/bundle.ts'

fuzzSuite('signed code bundles', [bundleDecode, bundleRoundTrip, bundleVerify], 0xb0d1)
