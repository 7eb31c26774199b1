import type { Multiaddr } from '@multiformats/multiaddr'

/** The IP address a connection comes from ('unknown' for a transport without one). */
export function ipOf(addr: Multiaddr): string {
  return addr.getComponents().find((x) => x.name === 'ip4' || x.name === 'ip6')?.value ?? 'unknown'
}
