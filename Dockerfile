# PeerCompute in one image: `peercompute relay` (the default) and `peercompute worker`.
#   docker build -t peercompute .
#   docker run -p 9090-9092:9090-9092 -v pc-relay:/data peercompute relay
#   docker run -e PEERCOMPUTE_RELAY=/dns4/relay.example/tcp/9092/p2p/<id> peercompute worker
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY . .
RUN npm ci && npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
WORKDIR /app
COPY --from=build /app /app
# the relay listens on every interface of the container and keeps its identity (and API token) on the volume
# (root: volumes such as Fly's mount owned by root)
ENV NODE_ENV=production \
    PEERCOMPUTE_RELAY_HOST=0.0.0.0 \
    PEERCOMPUTE_RELAY_IDENTITY=/data/relay.key
# 9090 WebSockets (browsers, behind TLS), 9091 HTTP API and /metrics, 9092 TCP (Node peers)
EXPOSE 9090 9091 9092
ENTRYPOINT ["/app/scripts/docker-entrypoint.sh"]
CMD ["relay"]
