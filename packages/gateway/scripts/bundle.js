#!/usr/bin/env node
// Bundles the function handlers into single ES modules for their hosts:
// dist/bundle/worker.js (a Cloudflare Worker module: wrangler deploy, or miniflare)
// and dist/bundle/lambda.mjs (an AWS Lambda Node.js handler: zip it, handler lambda.handler).
// Only @peercompute/kernels is inside them.
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'rolldown'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/** Bundles both handlers into `outDir` (default dist/bundle); returns the paths written. */
export async function bundleHandlers(outDir = join(root, 'dist', 'bundle')) {
  const out = {}
  for (const [name, file, platform] of [
    ['worker', 'worker.js', 'browser'],
    ['lambda', 'lambda.mjs', 'node'],
  ]) {
    await build({
      input: join(root, 'src', 'handlers', `${name}.ts`),
      platform,
      resolve: { conditionNames: ['peercompute-source', 'import', 'default'] },
      output: { file: join(outDir, file), format: 'esm', minify: false },
      logLevel: 'warn',
    })
    out[name] = join(outDir, file)
  }
  return out
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const paths = await bundleHandlers(process.argv[2])
  console.log(`bundled: ${Object.values(paths).join(', ')}`)
}
