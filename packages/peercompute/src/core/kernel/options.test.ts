import { describe, expect, it } from 'vitest'
import { generatePublisherKey } from '../code/keys.js'
import { checkNodeOptions, MAX_TRUSTED_KEYS } from './options.js'

describe('checkNodeOptions: trust', () => {
  it('takes publisher keys and refuses anything else with InvalidOptionError', async () => {
    const { publicKey } = await generatePublisherKey()
    const relays = ['/ip4/127.0.0.1/tcp/1/p2p/12D3KooWRelay']
    expect(() => checkNodeOptions({ relays, trust: [publicKey] })).not.toThrow()
    expect(() => checkNodeOptions({ relays, trust: ['ed25519:nope'] })).toThrow(
      expect.objectContaining({ name: 'InvalidOptionError' }),
    )
    expect(() => checkNodeOptions({ relays, trust: 'x' as never })).toThrow(
      expect.objectContaining({ name: 'InvalidOptionError' }),
    )
    expect(() => checkNodeOptions({ relays, trust: Array(MAX_TRUSTED_KEYS + 1).fill(publicKey) })).toThrow(
      expect.objectContaining({ name: 'InvalidOptionError' }),
    )
  })
})

describe('checkNodeOptions: wgslLimits', () => {
  it('takes positive integer overrides of WGSL_LIMITS and refuses anything else with InvalidOptionError', () => {
    const relays = ['/ip4/127.0.0.1/tcp/1/p2p/12D3KooWRelay']
    expect(() => checkNodeOptions({ relays, wgslLimits: { maxBytes: 1 << 20, maxWorkgroups: 1024 } })).not.toThrow()
    for (const bad of [{ maxBytes: 0 }, { maxBytes: 1.5 }, { maxWorkgroups: -1 }, { nope: 1 }, 'x'])
      expect(() => checkNodeOptions({ relays, wgslLimits: bad as never }), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ name: 'InvalidOptionError' }),
      )
  })
})
