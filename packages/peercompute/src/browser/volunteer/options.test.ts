import { describe, expect, it } from 'vitest'
import { checkVolunteerOptions, MAX_LIST, optionsFromDataset } from './options.js'

const RELAY = '/ip4/127.0.0.1/tcp/4001/ws/p2p/12D3KooWRelay'

describe('volunteer options', () => {
  it('reads the script tag: lists, numbers, flags, texts; absent attributes stay absent', () => {
    const o = optionsFromDataset({
      relay: `${RELAY}, ${RELAY}2`,
      trust: 'ed25519:abc',
      maxCpu: '0.25',
      allowOrigins: 'https://data.example.com',
      consent: 'granted',
      textTitle: 'Prêter votre processeur ?',
      lang: 'fr',
      iceServers: '',
      dialPrivate: '',
    })
    expect(o).toEqual({
      relays: [RELAY, `${RELAY}2`],
      trust: ['ed25519:abc'],
      maxCpu: 0.25,
      allowOrigins: ['https://data.example.com'],
      consent: 'granted',
      texts: { title: 'Prêter votre processeur ?' },
      lang: 'fr',
      rtcConfiguration: { iceServers: [] },
      dialPrivate: true,
    })
    expect(optionsFromDataset({ consent: 'yes please' }).consent).toBe('ask')
  })

  it('refuses bad values with an error that names them', () => {
    expect(() => optionsFromDataset({ maxCpu: 'half' })).toThrow(/data-max-cpu/)
    expect(() =>
      optionsFromDataset({
        relay: Array(MAX_LIST + 1)
          .fill(RELAY)
          .join(','),
      }),
    ).toThrow(TypeError)
    const ok = { relays: [RELAY] }
    expect(() => checkVolunteerOptions(ok)).not.toThrow()
    expect(() => checkVolunteerOptions({ relays: [] })).toThrow(/relays/)
    expect(() => checkVolunteerOptions({ relays: ['/ip4/1.2.3.4/tcp/1'] })).toThrow(/relay/)
    expect(() => checkVolunteerOptions({ ...ok, maxCpu: 0 })).toThrow(/maxCpu/)
    expect(() => checkVolunteerOptions({ ...ok, maxCpu: 1.5 })).toThrow(/maxCpu/)
    expect(() => checkVolunteerOptions({ ...ok, workers: 0.5 })).toThrow(/workers/)
    expect(() => checkVolunteerOptions({ ...ok, rememberDays: 1000 })).toThrow(/rememberDays/)
    expect(() => checkVolunteerOptions({ ...ok, allowOrigins: ['https://x.example/path'] })).toThrow(/origin/)
  })
})
