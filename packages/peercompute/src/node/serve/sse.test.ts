import { afterEach, describe, expect, it } from 'vitest'
import { SseHub, type SseStream } from './sse.js'

const hubs: SseHub[] = []
afterEach(() => {
  for (const h of hubs.splice(0)) h.stop()
})

function hub(limits: ConstructorParameters<typeof SseHub>[0]) {
  const h = new SseHub(limits)
  hubs.push(h)
  return h
}

describe('SseHub', () => {
  it('sends events in the SSE format and ends the stream on close', async () => {
    const h = hub({})
    const res = h.open('c', (s) => {
      s.send('progress', { done: 1, total: 2 })
      s.close()
      return () => {}
    })
    expect(await res?.text()).toBe(': open\n\nevent: progress\ndata: {"done":1,"total":2}\n\n')
    expect(h.size).toBe(0)
  })

  it('drops a reader that falls behind by more than its backlog, and runs its cleanup', () => {
    const h = hub({ maxBacklogBytes: 4096 })
    let stream: SseStream | undefined
    let cleaned = 0
    const res = h.open('c', (s) => {
      stream = s
      return () => cleaned++
    })
    expect(res).toBeInstanceOf(Response)
    // nobody reads: the queue fills, then the stream is dropped rather than grown
    let sent = 0
    while (stream?.send('piece', { pad: 'x'.repeat(200) })) sent++
    expect(sent).toBeGreaterThan(5)
    expect(sent).toBeLessThan(25)
    expect(stream?.closed).toBe(true)
    expect(cleaned).toBe(1)
    expect(h.dropped).toBe(1)
    expect(h.size).toBe(0)
  })

  it('limits streams in all and per client', () => {
    const h = hub({ maxStreams: 3, maxPerClient: 2 })
    const keep = () => () => {}
    expect(h.open('a', keep)).toBeDefined()
    expect(h.open('a', keep)).toBeDefined()
    expect(h.open('a', keep)).toBeUndefined()
    expect(h.open('b', keep)).toBeDefined()
    expect(h.open('c', keep)).toBeUndefined()
    expect(h.size).toBe(3)
    h.stop()
    expect(h.size).toBe(0)
  })

  it('frees the slot when the reader cancels', async () => {
    const h = hub({ maxStreams: 1 })
    const res = h.open('a', () => () => {})
    await res?.body?.cancel()
    expect(h.size).toBe(0)
    expect(h.open('a', () => () => {})).toBeDefined()
  })
})
