import { type LookupAddress, lookup } from 'node:dns'
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import type { LookupFunction } from 'node:net'
import type { RangeRequest, RangeResponse, RangeTransport } from '../../core/compute/range-fetch.js'
import { checkAddress, type ResolvedUrlPolicy } from '../../core/compute/url-policy.js'
import { UrlNotAllowedError } from '../../core/errors.js'

// URL ranges in Node over node:http(s), not fetch: the socket connects to the
// very addresses the lookup below checked, so a name cannot resolve to a public
// address for the check and to a private one for the connection (DNS
// rebinding). No cookies, no credentials, no proxy from the environment, and
// redirects are answered as they are (fetchRange refuses them).

/**
 * A lookup for `net.connect` that resolves `hostname` and refuses it, with
 * `UrlNotAllowedError` and before any connection, if ANY address it resolves
 * to is not allowed by `policy`.
 */
export function checkingLookup(policy: ResolvedUrlPolicy): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
      if (err) {
        callback(err, '', 0)
        return
      }
      try {
        if (addresses.length === 0) throw new UrlNotAllowedError('the host resolves to no address')
        for (const a of addresses) checkAddress(a.address, policy)
      } catch (refusal) {
        callback(refusal as NodeJS.ErrnoException, '', 0)
        return
      }
      // net.connect asks for all addresses when it tries them in turn (autoSelectFamily), else for one
      if (options.all) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses)
      else callback(null, addresses[0].address, addresses[0].family)
    })
  }
}

/** Keep-alive agents per policy: a pooled socket was opened to an address that policy allowed. */
const agents = new WeakMap<ResolvedUrlPolicy, { http: HttpAgent; https: HttpsAgent }>()

function agentsFor(policy: ResolvedUrlPolicy): { http: HttpAgent; https: HttpsAgent } {
  let a = agents.get(policy)
  if (!a) {
    // idle sockets are unref'd by the agent and closed after 5 s: they keep no process alive
    const opts = { keepAlive: true, timeout: 5000, maxSockets: 16, lookup: checkingLookup(policy) }
    a = { http: new HttpAgent(opts), https: new HttpsAgent(opts) }
    agents.set(policy, a)
  }
  return a
}

/**
 * The Node range transport: HTTP/1.1 over node:http(s), every resolved
 * address checked against the request's policy before connecting (IP-literal
 * hosts were checked by `fetchRange` already), no redirects followed.
 */
export const nodeRangeTransport: RangeTransport = (req: RangeRequest): Promise<RangeResponse> => {
  const { url, policy, signal } = req
  const https = url.protocol === 'https:'
  const request = https ? httpsRequest : httpRequest
  return new Promise<RangeResponse>((resolve, reject) => {
    const r = request(
      {
        protocol: url.protocol,
        // IPv6 literals come bracketed from URL; node:http wants them bare
        hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: 'GET',
        headers: { ...req.headers, 'accept-encoding': 'identity' },
        lookup: checkingLookup(policy),
        agent: https ? agentsFor(policy).https : agentsFor(policy).http,
        signal,
      },
      (res) => resolve(toRangeResponse(res)),
    )
    r.once('error', reject)
    r.end()
  })
}

function toRangeResponse(res: IncomingMessage): RangeResponse {
  return {
    status: res.statusCode ?? 0,
    header: (name) => {
      const v = res.headers[name]
      return Array.isArray(v) ? v.join(', ') : v
    },
    body: res,
    cancel: () => res.destroy(),
  }
}
