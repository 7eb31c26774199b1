// The site's peer identity, kept in IndexedDB: whichever tab leads starts its
// node with the same private key, so the mesh (and the relay's registry) sees
// one steady peer id across tab closes, reloads and takeovers. The key is the
// node's libp2p key only (it signs nothing but the transport handshake); any
// script of the origin can read it, as it can read everything else the page has.
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { AbortError } from '../../../core/errors.js'

/** The IndexedDB database the identity lives in, unless `dbName` says otherwise. */
export const PEER_IDENTITY_DB = 'peercompute-identity'
const STORE = 'keys'
const KEY = 'peer'
/** A protobuf-encoded Ed25519 private key is 68 bytes; anything far larger is not ours. */
const MAX_KEY_BYTES = 1024

/** Options of {@link loadPeerIdentity} and {@link forgetPeerIdentity}. */
export interface PeerIdentityOptions {
  /**
   * IndexedDB database name (default {@link PEER_IDENTITY_DB}). One identity
   * per origin by default: an origin that runs two nodes at once (two
   * `runOncePerSite` names) gives each its own database, or they would be one
   * peer id twice.
   */
  dbName?: string
  /** Gives up waiting for IndexedDB. */
  signal?: AbortSignal
}

function settle<T>(req: IDBRequest<T>, signal?: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(new AbortError('loading the peer identity was aborted'))
    if (signal?.aborted) return onAbort()
    signal?.addEventListener('abort', onAbort, { once: true })
    req.onsuccess = () => {
      signal?.removeEventListener('abort', onAbort)
      resolve(req.result)
    }
    req.onerror = () => {
      signal?.removeEventListener('abort', onAbort)
      reject(req.error ?? new Error('IndexedDB request failed'))
    }
  })
}

async function open(options: PeerIdentityOptions): Promise<IDBDatabase> {
  const req = indexedDB.open(options.dbName ?? PEER_IDENTITY_DB, 1)
  req.onupgradeneeded = () => {
    if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE)
  }
  const db = await settle(req, options.signal).catch((err: unknown) => {
    // an open that finishes after the abort is closed at once
    req.onsuccess = () => req.result.close()
    throw err
  })
  // another version of the page asking to upgrade the schema gets it
  db.onversionchange = () => db.close()
  return db
}

/** Decodes a stored key, or `undefined` for anything that is not a valid private key. */
function decode(stored: unknown): PrivateKey | undefined {
  if (!(stored instanceof Uint8Array) || stored.length === 0 || stored.length > MAX_KEY_BYTES) return undefined
  try {
    return privateKeyFromProtobuf(stored)
  } catch {
    return undefined
  }
}

/**
 * The site's persistent peer key: the one in IndexedDB, or a new Ed25519 key
 * stored there first. Two tabs calling at once get the same key (the read and
 * the write are one transaction). A stored value that is not a valid key is
 * replaced by a new one.
 */
export async function loadPeerIdentity(options: PeerIdentityOptions = {}): Promise<PrivateKey> {
  // generated before the transaction: an IndexedDB transaction ends when it waits on anything else
  const fresh = await generateKeyPair('Ed25519')
  const db = await open(options)
  try {
    const tx = db.transaction(STORE, 'readwrite')
    const store = tx.objectStore(STORE)
    const kept = decode(await settle(store.get(KEY), options.signal))
    if (kept) return kept
    store.put(privateKeyToProtobuf(fresh), KEY)
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve()
      tx.onerror = () => reject(tx.error ?? new Error('IndexedDB transaction failed'))
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'))
    })
    return fresh
  } finally {
    db.close()
  }
}

/** Deletes the stored peer key: the next {@link loadPeerIdentity} makes a new peer id. */
export async function forgetPeerIdentity(options: PeerIdentityOptions = {}): Promise<void> {
  const db = await open(options)
  try {
    const tx = db.transaction(STORE, 'readwrite')
    await settle(tx.objectStore(STORE).delete(KEY), options.signal)
  } finally {
    db.close()
  }
}
