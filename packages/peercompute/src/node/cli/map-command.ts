import { createReadStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { POLICIES, type PolicyName } from '../../core/compute/mesh/policies.js'
import { isOp } from '../../core/ops.js'
import { createNode } from '../create-node.js'
import { UsageError } from './kernel-command.js'
import { COMMON, nodeOptions, positiveInt, waitForPeers } from './mesh-commands.js'

const enc = new TextEncoder()

/**
 * The items of a JSON-lines file, read as the job pulls them (blank lines
 * skipped). For a built-in kernel an item is bytes: a JSON string is its
 * UTF-8 bytes, `{"base64": "..."}` the decoded bytes.
 */
export async function* jsonLines(path: string, builtin: boolean): AsyncGenerator<unknown> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY })
  let n = 0
  for await (const line of lines) {
    n++
    if (line.trim() === '') continue
    let v: unknown
    try {
      v = JSON.parse(line)
    } catch {
      throw new UsageError(`${path}:${n}: not a JSON value`)
    }
    yield builtin ? itemBytes(v, `${path}:${n}`) : v
  }
}

function itemBytes(v: unknown, where: string): Uint8Array {
  if (typeof v === 'string') return enc.encode(v)
  const b64 = (v as { base64?: unknown } | null)?.base64
  if (typeof b64 === 'string') return new Uint8Array(Buffer.from(b64, 'base64'))
  throw new UsageError(`${where}: a built-in's item is a string or {"base64": "..."}`)
}

/** One result as a JSON line: bigints as decimal strings, bytes as `{"base64": ...}`. */
export function resultLine(v: unknown): string {
  return JSON.stringify(v, (_k, x) =>
    typeof x === 'bigint'
      ? x.toString()
      : x instanceof Uint8Array
        ? { base64: Buffer.from(x.buffer, x.byteOffset, x.byteLength).toString('base64') }
        : x,
  )
}

/**
 * `peercompute map`: runs one kernel (`--kernel`, or signed code with
 * `--code BUNDLE`) over a JSON-lines file on the mesh; prints the results in
 * order, one per line.
 */
export async function mapCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      ...COMMON,
      kernel: { type: 'string' },
      code: { type: 'string' },
      inputs: { type: 'string' },
      module: { type: 'string' },
      imm: { type: 'string' },
      redundancy: { type: 'string' },
      policy: { type: 'string' },
      peers: { type: 'string' },
      'batch-items': { type: 'string' },
      'no-local': { type: 'boolean' },
    },
  })
  const kernel = values.kernel
  if (!kernel === !values.code)
    throw new UsageError(
      '--kernel NAME (a built-in op, or a kernel the peers registered) or --code BUNDLE (signed code) is required, not both',
    )
  if (values.code && values.module) throw new UsageError('--module goes with --kernel, not with --code')
  if (!values.inputs) throw new UsageError('--inputs FILE.jsonl is required')
  if (values.policy && !(values.policy in POLICIES))
    throw new UsageError(`--policy must be one of ${Object.keys(POLICIES).join(', ')}`)
  // signed code: the peers that trust its publisher (--trust on theirs) fetch it from this node and verify it
  const code = values.code ? new Uint8Array(await readFile(values.code)) : undefined
  const node = await createNode(nodeOptions(values))
  try {
    await node.start()
    if (values.module && kernel) node.registerKernel(kernel, new URL(values.module, `file://${process.cwd()}/`).href)
    const want = values.peers ? positiveInt(values.peers, '--peers') : 1
    const have = await waitForPeers(node, want, 20_000)
    if (have < want) console.error(`peercompute: only ${have} of ${want} peers after 20 s; running anyway`)
    const job = node.compute.map({
      ...(code ? { code } : { kernel }),
      inputs: jsonLines(values.inputs, kernel !== undefined && isOp(kernel)),
      ...(values.imm ? { params: { imm: Number(values.imm) } } : {}),
      redundancy: values.redundancy ? positiveInt(values.redundancy, '--redundancy') : undefined,
      policy: values.policy as PolicyName | undefined,
      includeLocal: !values['no-local'],
      batchItems: values['batch-items'] ? positiveInt(values['batch-items'], '--batch-items') : undefined,
    })
    for await (const r of job) {
      if (!process.stdout.write(`${resultLine(r)}\n`)) await new Promise((ok) => process.stdout.once('drain', ok))
    }
    return 0
  } finally {
    await node.stop()
  }
}
