// WGSL for the built-in kernels that map well to a GPU. Data is bound as u32
// words; `n` is the byte length, so bytes past it in the last word are ignored.

/** Uniform block shared by the built-in shaders (16 bytes). */
export const PARAMS_WGSL = /* wgsl */ `
struct Params { n: u32, imm: u32, keyLen: u32, phase: u32 }
@group(0) @binding(0) var<uniform> p: Params;
`

export const WORKGROUP_SIZE = 256

const gridStride = /* wgsl */ `
  let words = (p.n + 3u) / 4u;
  let stride = nwg.x * ${WORKGROUP_SIZE}u;
`

export const COUNTEQ_WGSL = /* wgsl */ `${PARAMS_WGSL}
@group(0) @binding(1) var<storage, read> data: array<u32>;
@group(0) @binding(2) var<storage, read_write> total: atomic<u32>;
var<workgroup> local: atomic<u32>;

@compute @workgroup_size(${WORKGROUP_SIZE})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) li: u32,
        @builtin(num_workgroups) nwg: vec3u) {
  ${gridStride}
  var count = 0u;
  for (var w = gid.x; w < words; w += stride) {
    let x = data[w];
    for (var b = 0u; b < 4u; b++) {
      if (w * 4u + b < p.n && ((x >> (8u * b)) & 0xffu) == p.imm) { count++; }
    }
  }
  atomicAdd(&local, count);
  workgroupBarrier();
  if (li == 0u) { atomicAdd(&total, atomicLoad(&local)); }
}`

export const ADD_WGSL = /* wgsl */ `${PARAMS_WGSL}
@group(0) @binding(1) var<storage, read_write> data: array<u32>;

@compute @workgroup_size(${WORKGROUP_SIZE})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  ${gridStride}
  let m = p.imm * 0x01010101u;
  for (var w = gid.x; w < words; w += stride) {
    let x = data[w];
    // bytewise add without carries between bytes
    data[w] = ((x & 0x7f7f7f7fu) + (m & 0x7f7f7f7fu)) ^ ((x ^ m) & 0x80808080u);
  }
}`

export const XOR_WGSL = /* wgsl */ `${PARAMS_WGSL}
@group(0) @binding(1) var<storage, read_write> data: array<u32>;
@group(0) @binding(2) var<storage, read> key: array<u32>; // one key byte per element

@compute @workgroup_size(${WORKGROUP_SIZE})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  ${gridStride}
  for (var w = gid.x; w < words; w += stride) {
    var k = 0u;
    for (var b = 0u; b < 4u; b++) {
      k |= key[(p.phase + w * 4u + b) % p.keyLen] << (8u * b);
    }
    data[w] = data[w] ^ k;
  }
}`
