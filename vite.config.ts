import { resolve } from 'node:path'
import { defineConfig } from 'vite'

// The example pages (examples/*/index.html). They import the built packages
// (`npm run build` first), exactly as an application would.
export default defineConfig({
  root: resolve(import.meta.dirname, 'examples'),
  build: {
    outDir: resolve(import.meta.dirname, 'examples/dist'),
    emptyOutDir: true,
    rollupOptions: {
      input: {
        compute: resolve(import.meta.dirname, 'examples/compute/index.html'),
        mesh: resolve(import.meta.dirname, 'examples/mesh/index.html'),
        node: resolve(import.meta.dirname, 'examples/node/index.html'),
        'hash-a-file': resolve(import.meta.dirname, 'examples/hash-a-file/index.html'),
        tabs: resolve(import.meta.dirname, 'examples/tabs/index.html'),
      },
    },
  },
  worker: { format: 'es' },
  server: { host: '127.0.0.1' },
  preview: { host: '127.0.0.1' },
})
