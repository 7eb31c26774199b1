// node scripts/gpu-check.mjs — PeerCompute's Node WebGPU path (Dawn, the `webgpu` package) on whatever adapter
// this machine has: the GpuExecutor test's assertions plus a 200 MiB input (several 128 MiB passes), then GB/s of
// the built-ins next to the CPU kernels in the same run. Needs a build (npm run build). Exits 1 on a wrong result, 2 without an adapter.
import { add, counteq, xor } from '../packages/kernels/dist/index.js'
import { prng } from '../packages/kernels/dist/testing/prng.js'
import { GpuExecutor } from '../packages/peercompute/dist/core/compute/gpu/gpu-executor.js'
import { createNodeGpu, gpuMayExist } from '../packages/peercompute/dist/node/compute/node-gpu.js'

const CPU = { counteq, xor, add }
const fail = (m) => {
  console.log('FAIL', m)
  process.exitCode = 1
}
const eq = (a, b) =>
  a.length === b.length &&
  Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0
console.log('gpuMayExist', gpuMayExist())
const gpu = await createNodeGpu()
const adapter = await gpu?.requestAdapter()
if (!adapter) {
  console.log('NO ADAPTER')
  process.exit(2)
}
const info = adapter.info ?? {}
console.log(
  'adapter',
  JSON.stringify({
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    fallback: adapter.isFallbackAdapter,
  }),
)
console.log(
  'adapter limits',
  JSON.stringify({
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    maxBufferSize: adapter.limits.maxBufferSize,
    maxComputeWorkgroupsPerDimension: adapter.limits.maxComputeWorkgroupsPerDimension,
  }),
)
const bytes = (n, seed) => prng(seed).bytes(n)
const gx = new GpuExecutor({ gpu })
let checks = 0
for (const [n, imm] of [
  [0, 0],
  [1, 7],
  [5, 0],
  [4099, 255],
  [1_000_003, 13],
  [200 * 2 ** 20 + 3, 200],
]) {
  const d = bytes(n, n + 1)
  const c = await gx.runBuiltin('counteq', d, { imm })
  if (c !== counteq(d, imm)) fail(`counteq n=${n}`)
  checks++
  const a = await gx.runBuiltin('add', d, { imm })
  if (!eq(a, add(d, imm))) fail(`add n=${n}`)
  checks++
  const x = await gx.runBuiltin('xor', d, { imm })
  if (!eq(x, xor(d, imm))) fail(`xor n=${n}`)
  checks++
  const key = bytes(7, 99)
  const xk = await gx.runBuiltin('xor', d, { key })
  if (!eq(xk, xor(d, key))) fail(`xor key n=${n}`)
  checks++
}
const input = Uint32Array.from({ length: 1000 }, (_, i) => i * 3)
const out = await gx.runWgsl({
  shader: `@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u) { if (id.x < arrayLength(&src)) { dst[id.x] = src[id.x] * 2u + 1u; } }`,
  workgroups: [Math.ceil(1000 / 64)],
  bindings: [
    { binding: 0, kind: 'storage-read', data: new Uint8Array(input.buffer) },
    { binding: 1, kind: 'storage', size: 4000 },
  ],
  output: { binding: 1, size: 4000 },
})
const got = new Uint32Array(out.buffer, out.byteOffset, 1000)
if (!got.every((v, i) => v === input[i] * 2 + 1)) fail('runWgsl')
checks++
try {
  await gx.runWgsl({
    shader: 'fn main( {',
    workgroups: [1],
    bindings: [{ binding: 0, kind: 'storage', size: 4 }],
    output: { binding: 0, size: 4 },
  })
  fail('bad WGSL accepted')
} catch (e) {
  if (e.name !== 'GpuValidationError') fail(`bad WGSL: ${e.name}`)
}
checks++
console.log('checks', checks, process.exitCode ? 'with failures' : 'all passed')
const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
console.log('| op | size | WebGPU (upload + run + readback) GB/s | CPU kernel (1 thread, same machine) GB/s | ratio |')
console.log('|---|---:|---:|---:|---:|')
for (const mib of [16, 64, 256 - 1]) {
  const d = bytes(mib * 2 ** 20, mib)
  for (const op of ['counteq', 'xor', 'add']) {
    const g = [],
      c = []
    for (let r = 0; r < 5; r++) {
      let t = performance.now()
      await gx.runBuiltin(op, d, { imm: 9 })
      g.push(performance.now() - t)
      t = performance.now()
      CPU[op](d, 9)
      c.push(performance.now() - t)
    }
    const gg = d.length / med(g) / 1e6,
      cc = d.length / med(c) / 1e6
    console.log(`| ${op} | ${mib} MiB | ${gg.toFixed(2)} | ${cc.toFixed(2)} | ${(gg / cc).toFixed(2)}× |`)
  }
}
await gx.stop()
console.log('stopped')
