import { resolve } from 'node:path'
import { defineConfig } from 'vite'

// The operator dashboard: one page, relative asset paths so that it can be served under any prefix.
export default defineConfig({
  root: import.meta.dirname,
  base: './',
  logLevel: 'warn',
  build: {
    outDir: resolve(import.meta.dirname, 'dist'),
    emptyOutDir: true,
    target: 'es2022',
  },
})
