import { describe, expect, it } from 'vitest'
import { resolveUrlPolicy } from '../../core/compute/url-policy.js'
import { type JobLimits, parseJob } from './job.js'
import { errorResult, resultData } from './results.js'

const LIMITS: JobLimits = { maxLength: 1 << 20, maxOutputBytes: 4096, urlPolicy: resolveUrlPolicy(undefined) }
const URL = 'https://data.example.com/blob.bin'

const raw = (program: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    job_id: 'j1',
    program: { op: 'crc32c', data_url: URL, offset: 0, length: 10, ...program },
    ...extra,
  })

describe('parseJob', () => {
  it("accepts the original system's job and maps its fields", () => {
    const r = parseJob(
      raw(
        { op: 'counteq', offset: 5, length: 100, imm: 7 },
        { required_memory_mb: 512, required_duration_seconds: 30 },
      ),
      LIMITS,
    )
    expect(r).toEqual({
      ok: true,
      job: { jobId: 'j1', op: 'counteq', url: URL, offset: 5, length: 100, imm: 7, memoryMb: 512, maxDurationS: 30 },
    })
  })

  it('defaults offset and imm, accepts a numeric job_id and null requirements', () => {
    const r = parseJob(
      JSON.stringify({ job_id: 42, program: { op: 'fnv64', data_url: URL, length: 3 }, required_memory_mb: null }),
      LIMITS,
    )
    expect(r).toEqual({ ok: true, job: { jobId: '42', op: 'fnv64', url: URL, offset: 0, length: 3, imm: 0 } })
  })

  it.each([
    ['not JSON', '{"job_id": ', undefined, /not JSON/],
    ['no job id', JSON.stringify({ program: {} }), undefined, /job_id/],
    ['a job id with a space', JSON.stringify({ job_id: 'a b', program: {} }), undefined, /job_id/],
    ['an object job id', JSON.stringify({ job_id: { $gt: 1 } }), undefined, /job_id/],
    ['an unknown op', raw({ op: 'sha1' }), 'j1', /program\.op must be one of/],
    ['op constructor', raw({ op: 'constructor' }), 'j1', /program\.op/],
    ['a negative length', raw({ length: -1 }), 'j1', /length/],
    ['a fractional offset', raw({ offset: 1.5 }), 'j1', /offset/],
    ['an unsafe length', raw({ length: 2 ** 53 }), 'j1', /length/],
    ['imm 256', raw({ imm: 256 }), 'j1', /imm/],
    ['a string length', raw({ length: '10' }), 'j1', /length/],
    ['a length beyond the bound', raw({ length: (1 << 20) + 1 }), 'j1', /exceeds 1048576/],
    ['xor output beyond the result bound', raw({ op: 'xor', length: 4097 }), 'j1', /xor output of 4097 bytes/],
    ['a loopback URL', raw({ data_url: 'http://127.0.0.1:8080/x' }), 'j1', /data_url refused: .*loopback/],
    ['a private URL', raw({ data_url: 'http://10.1.2.3/x' }), 'j1', /data_url refused/],
    ['the metadata service', raw({ data_url: 'http://169.254.169.254/latest' }), 'j1', /metadata/],
    ['a file URL', raw({ data_url: 'file:///etc/passwd' }), 'j1', /scheme file:/],
    ['a local name', raw({ data_url: 'http://localhost/x' }), 'j1', /local name/],
    ['a huge URL', raw({ data_url: `${URL}?${'a'.repeat(5000)}` }), 'j1', /program\.data_url/],
    ['no program', JSON.stringify({ job_id: 'j1' }), 'j1', /program/],
  ])('refuses %s with an InvalidJobError', (_what, item, jobId, message) => {
    const r = parseJob(item, LIMITS)
    expect(r.ok).toBe(false)
    if (r.ok) return
    expect(r.jobId).toBe(jobId)
    expect(r.error.name).toBe('InvalidJobError')
    expect(r.error.message).toMatch(message)
  })

  it('allows loopback data when the policy allows private hosts', () => {
    const r = parseJob(raw({ data_url: 'http://127.0.0.1:8080/x' }), {
      ...LIMITS,
      urlPolicy: resolveUrlPolicy({ allowPrivate: true }),
    })
    expect(r.ok).toBe(true)
  })

  it('does not let __proto__ in a job reach any prototype', () => {
    const r = parseJob(
      '{"job_id": "p", "__proto__": {"polluted": 1}, "program": {"op": "add", "data_url": "x"}}',
      LIMITS,
    )
    expect(r.ok).toBe(false)
    expect(({} as { polluted?: number }).polluted).toBeUndefined()
  })
})

describe('result documents', () => {
  it('writes each op result as JSON can carry it', () => {
    expect(resultData(12)).toBe(12)
    expect(resultData(0xabcn)).toBe('0x0000000000000abc')
    expect(resultData(new Uint8Array([1, 2, 255]))).toBe('AQL/')
    expect(resultData(new Uint8Array([9, 1, 2, 255]).subarray(1))).toBe('AQL/')
  })

  it('an error result has success false, no data and the error class', () => {
    const e = errorResult('x', Object.assign(new Error('boom'), { name: 'NoEligiblePeerError' }))
    expect(e).toMatchObject({
      job_id: 'x',
      success: false,
      result_data: null,
      cost_usd: 0,
      error: 'boom',
      error_type: 'NoEligiblePeerError',
    })
  })
})
