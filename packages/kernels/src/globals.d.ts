// The few platform globals the kernels use, declared here so the package needs
// neither DOM nor Node type definitions: it must run in both, and in workers.
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array<ArrayBuffer>)
  }
  class Instance {
    constructor(module: Module, imports?: object)
    readonly exports: Record<string, unknown>
  }
  class Memory {
    readonly buffer: ArrayBuffer
    grow(pages: number): number
  }
  function compile(bytes: Uint8Array<ArrayBuffer>): Promise<Module>
}
declare function atob(data: string): string
