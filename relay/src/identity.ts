import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'

/**
 * The relay's identity key: read from `path`, or made on first start and
 * written there with mode 0600, so that the peer id survives restarts.
 */
export async function loadOrCreateIdentity(path: string): Promise<{ key: PrivateKey; created: boolean }> {
  if (existsSync(path)) {
    try {
      return { key: privateKeyFromProtobuf(readFileSync(path)), created: false }
    } catch (err) {
      throw new Error(`identity file ${path} is not a libp2p private key: ${(err as Error).message}`)
    }
  }
  const key = await generateKeyPair('Ed25519')
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, privateKeyToProtobuf(key), { mode: 0o600, flag: 'wx' })
  chmodSync(path, 0o600)
  return { key, created: true }
}
