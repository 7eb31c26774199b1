import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { defineConfig, type Plugin } from 'vite'

// The volunteer script tag, in two files (an IIFE cannot split code):
//   mode 'loader': dist/volunteer/peercompute.volunteer.js, an IIFE exposing
//                  `PeerCompute.volunteer()`: consent, preferences, politeness;
//   mode 'node':   dist/volunteer/peercompute.volunteer.node.js, an ES module
//                  the loader imports after consent: libp2p, Yjs, the kernels,
//                  with its Web Worker beside it in dist/volunteer/assets/.
// scripts/build-volunteer.ts runs both and checks the gzip budgets.
const src = resolve(import.meta.dirname, 'src/browser/volunteer')
const outDir = resolve(import.meta.dirname, 'dist/volunteer')

/**
 * Volunteers' identities and the mesh's are Ed25519: secp256k1 keys (and with
 * them @noble/curves' Weierstrass code, a tenth of the chunk) are left out of
 * the volunteer node. A secp256k1 key met there fails with libp2p's own
 * UnsupportedKeyTypeError.
 */
function withoutSecp256k1(): Plugin {
  const STUB = '\0pc-no-secp256k1'
  return {
    name: 'peercompute-no-secp256k1',
    enforce: 'pre',
    resolveId(source, importer) {
      if (!importer?.includes('@libp2p/crypto/dist/src/keys/')) return null
      return /^\.\/secp256k1\/(utils|index)\.js$/.test(source) ? STUB : null
    },
    load(id) {
      if (id !== STUB) return null
      return `import { UnsupportedKeyTypeError } from '@libp2p/interface'
const no = () => { throw new UnsupportedKeyTypeError('secp256k1 keys are not supported by the volunteer node') }
export const privateKeyLength = 32, publicKeyLength = 33
export const unmarshalSecp256k1PrivateKey = no, unmarshalSecp256k1PublicKey = no, generateSecp256k1KeyPair = async () => no()
`
    },
  }
}

/**
 * npm nests identical copies of a package where the hoisted one is another
 * version (protons-runtime 7 under eight @libp2p packages, uint8arraylist 3
 * under fifteen): each would be bundled again. One copy per name and version.
 */
function dedupeByVersion(): Plugin {
  const first = new Map<string, string>()
  const versions = new Map<string, string>()
  const version = (root: string) => {
    let v = versions.get(root)
    if (v === undefined) {
      v = (JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { version?: string }).version ?? ''
      versions.set(root, v)
    }
    return v
  }
  return {
    name: 'peercompute-dedupe-by-version',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      if (/^[./\0]/.test(source) || !importer) return null
      const r = await this.resolve(source, importer, { ...options, skipSelf: true })
      const m = r && !r.external ? /^(.*\/node_modules\/((?:@[^/]+\/)?[^/]+))\/(.*)$/.exec(r.id) : null
      if (!r || !m) return r
      const [, root, name, rest] = m
      const key = `${name}@${version(root)}`
      const canonical = first.get(key) ?? root
      first.set(key, canonical)
      return canonical === root ? r : { ...r, id: `${canonical}/${rest}` }
    },
  }
}

export default defineConfig(({ mode }) => ({
  configFile: false,
  // the worker is found beside the node chunk, wherever the site or a CDN serves it
  base: './',
  plugins: mode === 'node' ? [dedupeByVersion(), withoutSecp256k1()] : [],
  logLevel: 'warn',
  resolve: { conditions: ['peercompute-source', 'module', 'browser', 'production'] },
  // library mode leaves process.env.NODE_ENV alone; these files run as they are
  define: { 'process.env.NODE_ENV': '"production"' },
  worker: { format: 'es' },
  build: {
    outDir,
    emptyOutDir: mode === 'loader',
    target: 'es2022',
    sourcemap: false,
    reportCompressedSize: false,
    lib:
      mode === 'node'
        ? { entry: resolve(src, 'node-entry.ts'), formats: ['es'], fileName: () => 'peercompute.volunteer.node.js' }
        : {
            entry: resolve(src, 'loader.ts'),
            formats: ['iife'],
            name: 'PeerCompute',
            fileName: () => 'peercompute.volunteer.js',
          },
    minify: true,
    // library mode keeps whitespace in ES output (for downstream bundlers); this file is served as is
    rolldownOptions: { output: { minify: true } },
  },
}))
