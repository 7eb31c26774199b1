import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
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
 * Volunteers' identities and the mesh's are Ed25519: secp256k1, RSA and ECDSA
 * keys (with @noble/curves' Weierstrass code, DER and JWK handling) are left
 * out of the volunteer node. Such a key met there (a peer's, in a handshake)
 * fails with libp2p's own UnsupportedKeyTypeError.
 */
function onlyEd25519Keys(): Plugin {
  const PREFIX = '\0pc-no-key:'
  const no = (type: string) => `import { UnsupportedKeyTypeError } from '@libp2p/interface'
const no = () => { throw new UnsupportedKeyTypeError('${type} keys are not supported by the volunteer node') }
const noAsync = async () => no()
`
  const stubs: Record<string, string> = {
    'secp256k1/index.js': `${no('secp256k1')}export const privateKeyLength = 32, publicKeyLength = 33\n`,
    'secp256k1/utils.js': `${no('secp256k1')}export const unmarshalSecp256k1PrivateKey = no, unmarshalSecp256k1PublicKey = no, generateSecp256k1KeyPair = noAsync\n`,
    'rsa/index.js': `export const RSAES_PKCS1_V1_5_OID = '1.2.840.113549.1.1.1'\n`,
    'rsa/der.js': `${no('RSA and ECDSA (DER)')}export const decodeDer = no\n`,
    'rsa/utils.js': `${no('RSA')}export const pkcs1ToRSAPrivateKey = no, pkixToRSAPublicKey = no, generateRSAKeyPair = noAsync, pkcs1MessageToRSAPrivateKey = no, pkixMessageToRSAPublicKey = no, jwkToRSAPrivateKey = no\n`,
    'ecdsa/ecdsa.js': `${no('ECDSA')}export class ECDSAPrivateKey { constructor() { no() } }\n`,
    'ecdsa/index.js': `export const ECDSA_P_256_OID = '1.2.840.10045.3.1.7', ECDSA_P_384_OID = '1.3.132.0.34', ECDSA_P_521_OID = '1.3.132.0.35'\n`,
    'ecdsa/utils.js': `${no('ECDSA')}export const generateECDSAKeyPair = noAsync, pkiMessageToECDSAPrivateKey = no, pkiMessageToECDSAPublicKey = no, unmarshalECDSAPrivateKey = no, unmarshalECDSAPublicKey = no\n`,
  }
  return {
    name: 'peercompute-only-ed25519-keys',
    enforce: 'pre',
    resolveId(source, importer) {
      if (!importer?.includes('@libp2p/crypto/dist/src/keys/index.js')) return null
      const m = /^\.\/(.+)$/.exec(source)
      return m && m[1] in stubs ? PREFIX + m[1] : null
    },
    load(id) {
      return id.startsWith(PREFIX) ? stubs[id.slice(PREFIX.length)] : null
    },
  }
}

/**
 * Small stand-ins for modules the volunteer node needs only a corner of:
 * - `@libp2p/logger` (and `weald`, its `debug`): loggers always disabled, as
 *   libp2p's own are when no `debug` namespace is enabled;
 * - `lib0/logging` (and lib0's DOM and schema code behind it): Yjs's few
 *   warnings go to the console unstyled;
 * - `netmask`: @libp2p/utils' private-IP check needs only an IPv4 CIDR's
 *   `contains`;
 * - `p-queue` (and eventemitter3): DNS-over-HTTPS needs only `add(fn,
 *   { signal })` under a concurrency limit.
 */
export const STAND_INS: Record<string, string> = {
  '@libp2p/logger': `const off = () => {}
function disabled(namespace) {
  const l = () => {}
  return Object.assign(l, { enabled: false, color: '', diff: 0, log: off, namespace, destroy: () => true, extend: () => l, useColors: () => false })
}
export function logger(name) {
  return Object.assign(disabled(name), { error: disabled(name + ':error'), trace: disabled(name + ':trace'), newScope: (s) => logger(name + ':' + s) })
}
export const defaultLogger = () => ({ forComponent: (name) => logger(name) })
export const prefixLogger = (prefix) => ({ forComponent: (name) => logger(prefix + ':' + name) })
export const peerLogger = (peerId) => prefixLogger(String(peerId))
export const disable = off, enable = off, enabled = () => false
`,
  'lib0/logging': `export const BOLD = Symbol('bold'), UNBOLD = Symbol('unbold'), BLUE = Symbol('blue'), GREY = Symbol('grey'), GREEN = Symbol('green'), RED = Symbol('red'), PURPLE = Symbol('purple'), ORANGE = Symbol('orange'), UNCOLOR = Symbol('uncolor')
const plain = (args) => args.filter((a) => typeof a !== 'symbol')
export const print = (...args) => console.log(...plain(args))
export const warn = (...args) => console.warn(...plain(args))
export const printError = (err) => console.error(err)
export const group = print, groupCollapsed = print, groupEnd = () => {}
export const createModuleLogger = (name) => (...args) => print(name, ...args)
`,
  'p-queue': `export default class PQueue {
  constructor({ concurrency = Infinity } = {}) {
    this.concurrency = concurrency
    this.running = 0
    this.waiting = []
  }
  get size() { return this.waiting.length }
  get pending() { return this.running }
  add(fn, { signal } = {}) {
    return new Promise((resolve, reject) => {
      const run = () => {
        if (signal?.aborted) return reject(signal.reason), this.next()
        this.running++
        Promise.resolve().then(() => fn({ signal })).then(resolve, reject).finally(() => { this.running--; this.next() })
      }
      if (this.running < this.concurrency) run()
      else this.waiting.push(run)
    })
  }
  next() {
    if (this.running < this.concurrency) this.waiting.shift()?.()
  }
}
`,
  netmask: `const toInt = (ip) => {
  const p = String(ip).split('.')
  if (p.length !== 4 || !p.every((x) => /^\\d{1,3}$/.test(x) && +x < 256)) throw new Error('Invalid IP: ' + ip)
  return p.reduce((n, x) => n * 256 + +x, 0)
}
export class Netmask {
  constructor(net) {
    const [ip, bits = '32'] = String(net).split('/')
    this.bitmask = +bits
    this.size = 2 ** (32 - this.bitmask)
    this.base = toInt(ip) - (toInt(ip) % this.size)
  }
  contains(ip) {
    const n = toInt(ip)
    return n >= this.base && n < this.base + this.size
  }
}
`,
}

function standIns(): Plugin {
  const PREFIX = '\0pc-stand-in:'
  return {
    name: 'peercompute-stand-ins',
    enforce: 'pre',
    resolveId: (source) => (source in STAND_INS ? PREFIX + source : null),
    load: (id) => (id.startsWith(PREFIX) ? STAND_INS[id.slice(PREFIX.length)] : null),
  }
}

/**
 * npm nests identical copies of a package where the hoisted one is another
 * version (protons-runtime 7 under eight @libp2p packages, uint8arraylist 3
 * under fifteen): each would be bundled again. One copy per name and version.
 * The packages in `UNIFIED` go further: one copy per name, the newest found,
 * whose API is a superset of the older majors' that libp2p still asks for
 * (checked by hand when they change: protons-runtime 5→7, uint8arraylist 2→3,
 * uint8arrays 5→6, multiformats 13→14; about 10 KB gzip).
 */
const UNIFIED = ['protons-runtime', 'uint8arraylist', 'uint8arrays', 'multiformats']

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
  // for each unified name, a file beside its newest copy to resolve the name from
  const newest = new Map<string, string>()
  const modules = resolve(import.meta.dirname, '../../node_modules')
  const order = (v: string) => v.split(/[.-]/, 3).map(Number)
  const newer = (a: string, b: string) => {
    const [x, y] = [order(a), order(b)]
    for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] > y[i]
    return false
  }
  for (const name of UNIFIED) {
    let best: { root: string; v: string } | undefined
    const parents = readdirSync(modules).flatMap((d) =>
      d.startsWith('@') ? readdirSync(join(modules, d)).map((e) => join(modules, d, e)) : [join(modules, d)],
    )
    for (const root of [join(modules, name), ...parents.map((p) => join(p, 'node_modules', name))]) {
      if (!existsSync(join(root, 'package.json'))) continue
      const v = version(root)
      if (!best || newer(v, best.v)) best = { root, v }
    }
    if (best) newest.set(name, `${best.root.slice(0, best.root.lastIndexOf('/node_modules/'))}/package.json`)
  }
  return {
    name: 'peercompute-dedupe-by-version',
    enforce: 'pre',
    async resolveId(source, importer, options) {
      if (/^[./\0#]/.test(source) || !importer) return null
      const name = /^((?:@[^/]+\/)?[^/]+)/.exec(source)?.[1] ?? ''
      const from = newest.get(name)
      if (from && from !== importer) return this.resolve(source, from, { ...options, skipSelf: true })
      const r = await this.resolve(source, importer, { ...options, skipSelf: true })
      const m = r && !r.external ? /^(.*\/node_modules\/((?:@[^/]+\/)?[^/]+))\/(.*)$/.exec(r.id) : null
      if (!r || !m) return r
      const [, root, pkg, rest] = m
      const key = `${pkg}@${version(root)}`
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
  plugins: mode === 'node' ? [standIns(), dedupeByVersion(), onlyEd25519Keys()] : [],
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
    rolldownOptions: { output: { minify: true, comments: false } },
  },
}))
