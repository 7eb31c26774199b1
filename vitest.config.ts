import { defineConfig } from 'vitest/config'

export default defineConfig({
  resolve: {
    // workspace packages resolve to their TypeScript sources in tests
    conditions: ['peercompute-source'],
  },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'relay/src/**/*.test.ts', 'test/**/*.test.ts', 'e2e/**/*.test.ts'],
    // a software Vulkan driver where no other is named (test/setup/vulkan.ts)
    setupFiles: ['test/setup/vulkan.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
})
