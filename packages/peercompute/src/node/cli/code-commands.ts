import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { basename, extname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { generatePublisherKey, importPublisherKey } from '../../core/code/keys.js'
import type { CodeBinding, CodeKind, CodeLimits } from '../../core/code/manifest.js'
import { signBundle } from '../../core/code/sign.js'
import { verifyBundle } from '../../core/code/verify.js'
import { UsageError } from './kernel-command.js'
import { parseSize } from './size.js'

// `peercompute keys new`, `sign` and `verify`: publisher keys and signed bundles
// (README, "Signed code"; PROTOCOL.md, "Signed code bundles").

/** `peercompute keys new [--out DIR] [--name NAME]`: a new Ed25519 key pair; prints the public key. */
export async function keysCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { out: { type: 'string', default: '.' }, name: { type: 'string', default: 'publisher' } },
  })
  if (positionals.length !== 1 || positionals[0] !== 'new') throw new UsageError('keys takes one subcommand: new')
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(values.name) || values.name.startsWith('.'))
    throw new UsageError('--name must be 1..64 letters, digits, ".", "_" or "-", not starting with "."')
  const key = await generatePublisherKey()
  mkdirSync(values.out, { recursive: true, mode: 0o700 })
  const secretPath = join(values.out, `${values.name}.key`)
  const publicPath = join(values.out, `${values.name}.pub`)
  // wx: never overwrite a key; 0600 from creation, and again in case the umask widened nothing but a chmod is cheap
  writeFileSync(secretPath, key.secretKeyPem, { mode: 0o600, flag: 'wx' })
  chmodSync(secretPath, 0o600)
  writeFileSync(publicPath, `${key.publicKey}\n`, { flag: 'wx' })
  console.error(`secret key: ${secretPath} (mode 0600; keep it secret)\npublic key: ${publicPath}`)
  console.log(key.publicKey)
  return 0
}

/** Reads a secret key file, refusing one that others may read (as ssh does). */
export async function loadKeyFile(path: string) {
  const mode = statSync(path).mode & 0o777
  if (process.platform !== 'win32' && mode & 0o077)
    throw new UsageError(`secret key ${path} has mode 0${mode.toString(8)}: others may read it; chmod 600 it`)
  return importPublisherKey(readFileSync(path, 'utf8'))
}

const LIMIT_NAMES: Record<string, keyof CodeLimits> = {
  maxInputBytes: 'maxInputBytes',
  maxOutputBytes: 'maxOutputBytes',
  timeoutMs: 'timeoutMs',
  memoryMb: 'memoryMb',
}

function parseBinding(s: string): CodeBinding {
  const m = /^(\d{1,4}):(storage-read|storage|uniform)$/.exec(s)
  if (!m) throw new UsageError(`--binding must be N:storage-read, N:storage or N:uniform, got ${s}`)
  return { binding: Number(m[1]), kind: m[2] as CodeBinding['kind'] }
}

function parseLimits(items: string[]): CodeLimits {
  const limits: CodeLimits = {}
  for (const item of items) {
    const [k, v] = item.split('=', 2)
    const name = Object.hasOwn(LIMIT_NAMES, k) ? LIMIT_NAMES[k] : undefined
    if (!name || v === undefined)
      throw new UsageError(`--limit must be NAME=VALUE with NAME one of ${Object.keys(LIMIT_NAMES).join(', ')}`)
    limits[name] = name.endsWith('Bytes') ? parseSize(v) : Number(v)
  }
  return limits
}

/**
 * `peercompute sign FILE --key K [--kind kernel|wgsl] [--name N] [--version V]
 * [--entry E] [--expires ISO] [--binding N:KIND]... [--limit NAME=VALUE]... [--out PATH]`:
 * writes the signed bundle (default FILE.bundle) and prints what it signed.
 */
export async function signCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      key: { type: 'string' },
      kind: { type: 'string' },
      name: { type: 'string' },
      version: { type: 'string', default: '0.0.0' },
      entry: { type: 'string' },
      expires: { type: 'string' },
      binding: { type: 'string', multiple: true, default: [] },
      limit: { type: 'string', multiple: true, default: [] },
      out: { type: 'string' },
      json: { type: 'boolean' },
    },
  })
  const [file, ...extra] = positionals
  if (file === undefined || extra.length) throw new UsageError('sign takes one FILE')
  if (values.key === undefined)
    throw new UsageError('--key FILE (a secret key from `peercompute keys new`) is required')
  const kind = (values.kind ?? (extname(file) === '.wgsl' ? 'wgsl' : 'kernel')) as CodeKind
  if (kind !== 'kernel' && kind !== 'wgsl') throw new UsageError(`--kind must be kernel or wgsl, got ${values.kind}`)
  let expires: Date | undefined
  if (values.expires !== undefined) {
    expires = new Date(values.expires)
    if (!Number.isFinite(expires.getTime()))
      throw new UsageError(`--expires must be an ISO 8601 time, got ${values.expires}`)
  }
  const key = await loadKeyFile(values.key)
  const code = readFileSync(file)
  const bundle = await signBundle(
    code,
    {
      name: values.name ?? basename(file, extname(file)),
      version: values.version,
      kind,
      entry: values.entry,
      bindings: values.binding.map(parseBinding),
      limits: parseLimits(values.limit),
      expires,
    },
    key,
  )
  const out = values.out ?? `${file}.bundle`
  writeFileSync(out, bundle)
  const { manifest } = await verifyBundle(bundle, { trust: [key.publicKey], now: 0 })
  if (values.json) console.log(JSON.stringify({ out, publicKey: key.publicKey, bytes: bundle.length, manifest }))
  else
    console.log(
      `signed ${manifest.name}@${manifest.version} (${manifest.kind}, ${manifest.size} bytes, sha256 ${manifest.sha256})\n` +
        `bundle: ${out} (${bundle.length} bytes)\npublisher: ${key.publicKey}`,
    )
  return 0
}

/** `peercompute verify BUNDLE --trust KEY...`: exit 0 and print the manifest if the bundle verifies, else exit 1. */
export async function verifyCommand(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { trust: { type: 'string', multiple: true, default: [] } },
  })
  const [file, ...extra] = positionals
  if (file === undefined || extra.length) throw new UsageError('verify takes one BUNDLE')
  if (!values.trust.length) throw new UsageError('--trust KEY (a publisher public key, ed25519:…) is required')
  const v = await verifyBundle(readFileSync(file), { trust: values.trust })
  console.log(JSON.stringify({ publicKey: v.publicKey, manifest: v.manifest }))
  return 0
}
