#!/bin/sh
# The image's entry point: `relay [flags]` or `worker [flags]` (any peercompute command).
# A worker takes its relay from PEERCOMPUTE_RELAY (one multiaddr, or several separated by spaces).
set -eu
CLI="${PEERCOMPUTE_CLI:-/app/packages/peercompute/dist/node/cli/main.js}"
cmd="${1:-relay}"
[ $# -gt 0 ] && shift
if [ "$cmd" = worker ]; then
  : "${PEERCOMPUTE_RELAY:?set PEERCOMPUTE_RELAY to the relay multiaddr (.../p2p/<relay id>)}"
  for r in $PEERCOMPUTE_RELAY; do set -- "$@" --relay "$r"; done
fi
if [ "$cmd" = relay ] && [ -n "${PEERCOMPUTE_RELAY_IDENTITY:-}" ]; then
  mkdir -p "$(dirname "$PEERCOMPUTE_RELAY_IDENTITY")"
fi
exec node "$CLI" "$cmd" "$@"
