import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import type { IncomingMessage } from 'node:http'
import { dirname } from 'node:path'

const TOKEN_RE = /^[A-Za-z0-9_-]{32,256}$/

/** A new random API token: 32 bytes, base64url. */
export function newApiToken(): string {
  return randomBytes(32).toString('base64url')
}

/**
 * The HTTP API token: read from `path`, or made on first start and written
 * there with mode 0600. A token file that others may read is refused (as ssh
 * refuses a private key that others may read).
 */
export function loadOrCreateApiToken(path: string): { token: string; created: boolean } {
  if (existsSync(path)) {
    const mode = statSync(path).mode & 0o777
    if (mode & 0o077)
      throw new Error(`token file ${path} has mode 0${mode.toString(8)}: others may read it; chmod 600 it`)
    const token = readFileSync(path, 'utf8').trim()
    if (!TOKEN_RE.test(token))
      throw new Error(`token file ${path} does not hold a token (32-256 characters of A-Z a-z 0-9 _ -)`)
    return { token, created: false }
  }
  const token = newApiToken()
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, `${token}\n`, { mode: 0o600, flag: 'wx' })
  chmodSync(path, 0o600)
  return { token, created: true }
}

/** True if the request carries `Authorization: Bearer <token>`; compared in constant time. */
export function hasBearer(req: IncomingMessage, token: string): boolean {
  return bearerMatches(req.headers.authorization, token)
}

/** True if an `Authorization` header value is `Bearer <token>`; compared in constant time. */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')
  return m ? tokenMatches(m[1], token) : false
}

/** True if `given` is the token; compared in constant time (equal-length digests, whatever the guess). */
export function tokenMatches(given: string, token: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest()
  return timingSafeEqual(digest(given), digest(token))
}
