/**
 * @packageDocumentation
 * PeerCompute's cloud gateways: a relay-attached peer that forwards the tasks
 * it accepts to a function (AWS Lambda, a Cloudflare Worker, any HTTP host of
 * the same wire format), and the function handlers themselves
 * (`src/handlers/lambda.ts`, `src/handlers/worker.ts`, which import only
 * `@peercompute/kernels`).
 */
export { base64Length, fromBase64, toBase64 } from './base64.js'
export { GATEWAY_USAGE, runGateway } from './cli.js'
export { FunctionBackend, type FunctionBackendInit } from './function-backend.js'
export {
  authorized,
  type HandlerAnswer,
  type HandlerEnv,
  type HandlerLimits,
  handleTask,
  LAMBDA_LIMITS,
  WORKER_LIMITS,
} from './handlers/run.js'
export {
  FUNCTION_OPS,
  type FunctionOp,
  parseRequest,
  parseResponse,
  WIRE_VERSION,
  WireError,
  type WireRange,
  type WireRequest,
  type WireResponse,
  type WireResult,
} from './protocol.js'
export { type Gateway, type GatewayOptions, startGateway } from './start-gateway.js'
export { SUBSTRATE_DEFAULTS, type SubstrateDefaults } from './substrates.js'
