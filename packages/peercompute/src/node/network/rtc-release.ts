import { type DataChannel, PeerConnection, type RtcConfig } from 'node-datachannel'

/** The WebRTC settings a Node peer takes (see `NodeNetworkInit.rtcConfiguration`). */
export interface NodeRtcConfiguration {
  iceServers?: Array<{ urls: string | string[]; username?: string; credential?: string }>
  /** node-datachannel: the local address to gather host candidates on. */
  bindAddress?: string
}

/**
 * libp2p's WebRTC `rtcConfiguration`, as a function that gives every peer
 * connection a node-datachannel PeerConnection whose `close()` also closes
 * the data channels made on it.
 *
 * Why: node-datachannel keeps the process alive for a data channel that never
 * opened until that channel is closed, and closing its peer connection does
 * not close it. libp2p's WebRTC dialer makes such a channel (`init`) for every
 * upgrade and leaves it open when the upgrade fails or is aborted (at stop, or
 * when the other side never answers): the process then never exits, and each
 * failed upgrade holds native memory for good.
 */
export function releasingRtcConfiguration(base: NodeRtcConfiguration = {}): () => NodeRtcConfiguration {
  return () => {
    // a fresh object per connection: libp2p fills default ICE servers into it and node-datachannel normalises it
    const config: NodeRtcConfiguration = {
      ...base,
      ...(base.iceServers ? { iceServers: base.iceServers.map((s) => ({ ...s })) } : {}),
    }
    let pc: PeerConnection | undefined
    // read once by node-datachannel's RTCPeerConnection, after libp2p set the ICE servers;
    // not enumerable so that copies of the config do not make connections
    Object.defineProperty(config, 'peerConnection', {
      enumerable: false,
      get() {
        pc ??= releasingPeerConnection(nativeConfig(config))
        return pc
      },
    })
    return config
  }
}

/** The polyfill's translation of an RTCConfiguration into node-datachannel's: ICE servers as URL strings. */
function nativeConfig(config: NodeRtcConfiguration): RtcConfig {
  const iceServers = (config.iceServers ?? []).flatMap((server) =>
    (Array.isArray(server.urls) ? server.urls : [server.urls]).map((url) => {
      if (!server.username || !server.credential) return url
      const [scheme, rest] = url.split(/:(.*)/)
      return `${scheme}:${server.username}:${server.credential}@${rest}`
    }),
  )
  return { ...(config as object), iceServers } as RtcConfig
}

/** A PeerConnection that remembers its data channels (weakly) and closes them with itself. */
function releasingPeerConnection(config: RtcConfig): PeerConnection {
  const pc = new PeerConnection(`peer-${Math.random().toString(36).slice(2, 9)}`, config)
  let channels = new Set<WeakRef<DataChannel>>()
  let pruneAt = 64
  const track = (dc: DataChannel): DataChannel => {
    channels.add(new WeakRef(dc))
    if (channels.size >= pruneAt) {
      // channels already collected need no closing: keep the set as small as the live ones
      channels = new Set([...channels].filter((r) => r.deref() !== undefined))
      pruneAt = Math.max(64, channels.size * 2)
    }
    return dc
  }
  const proto = Object.getPrototypeOf(pc) as PeerConnection
  // the native methods are read-only on the prototype; own properties shadow them
  Object.defineProperties(pc, {
    createDataChannel: {
      value: (...args: Parameters<PeerConnection['createDataChannel']>) =>
        track(proto.createDataChannel.apply(pc, args)),
    },
    onDataChannel: {
      value: (cb: (dc: DataChannel) => void) => proto.onDataChannel.call(pc, (dc) => cb(track(dc))),
    },
    close: {
      value: () => {
        proto.close.call(pc)
        const open = channels
        channels = new Set()
        for (const ref of open) {
          try {
            ref.deref()?.close()
          } catch {
            // already closed
          }
        }
      },
    },
  })
  return pc
}
