import { describe, expect, it } from 'vitest'
import { MAX_KERNEL_RESULT_BYTES, resultBytesProblem, resultProblem, wgslResultProblem } from './result-check.js'

describe('result shapes per op', () => {
  it('accepts what each op gives over a piece', () => {
    expect(resultProblem('xor', new Uint8Array(10), 10)).toBeUndefined()
    expect(resultProblem('add', new Uint8Array(0), 0)).toBeUndefined()
    expect(resultProblem('counteq', 0, 10)).toBeUndefined()
    expect(resultProblem('counteq', 10, 10)).toBeUndefined()
    expect(resultProblem('crc32c', 0xffff_ffff, 1)).toBeUndefined()
    expect(resultProblem('fnv64', (1n << 64n) - 1n, 1)).toBeUndefined()
    expect(resultProblem('fnv64', 0n, 1)).toBeUndefined()
    expect(resultProblem('my-kernel', { any: 'json' }, 5)).toBeUndefined()
    expect(resultProblem('my-kernel', new Uint8Array(100), 5)).toBeUndefined()
  })

  it('refuses the wrong type, length or range, saying what was expected', () => {
    expect(resultProblem('xor', 7, 10)).toMatch(/xor result must be bytes; got number 7/)
    expect(resultProblem('xor', new Uint8Array(9), 10)).toMatch(/must be 10 bytes.*9 declared/)
    expect(resultProblem('add', new Uint8Array(11), 10)).toMatch(/must be 10 bytes/)
    expect(resultProblem('counteq', 11, 10)).toMatch(/integer in 0\.\.10/)
    expect(resultProblem('counteq', -1, 10)).toMatch(/integer in 0\.\.10/)
    expect(resultProblem('counteq', 1.5, 10)).toMatch(/integer/)
    expect(resultProblem('counteq', 3n, 10)).toMatch(/integer/)
    expect(resultProblem('crc32c', 2 ** 32, 1)).toMatch(/0\.\.4294967295/)
    expect(resultProblem('crc32c', Number.NaN, 1)).toMatch(/crc32c/)
    expect(resultProblem('crc32c', new Uint8Array(4), 1)).toMatch(/got 4 bytes/)
    expect(resultProblem('fnv64', 1, 1)).toMatch(/bigint/)
    expect(resultProblem('fnv64', -1n, 1)).toMatch(/bigint/)
    expect(resultProblem('fnv64', 1n << 64n, 1)).toMatch(/bigint/)
    expect(resultProblem('xor', null, 1)).toMatch(/got null/)
    expect(resultProblem('k', new Uint8Array(11), 1, 10)).toMatch(/exceeds the limit of 10/)
  })

  it('bounds a declared result length before anything is allocated', () => {
    expect(resultBytesProblem('xor', 100, 100)).toBeUndefined()
    expect(resultBytesProblem('xor', 100, 2 ** 40)).toMatch(/must be 100 bytes/)
    expect(resultBytesProblem('crc32c', 100, 4)).toMatch(/not bytes/)
    expect(resultBytesProblem('k', 1, MAX_KERNEL_RESULT_BYTES)).toBeUndefined()
    expect(resultBytesProblem('k', 1, MAX_KERNEL_RESULT_BYTES + 1)).toMatch(/exceeds/)
  })
})

describe('WGSL results', () => {
  it('are exactly the output size in bytes', () => {
    expect(wgslResultProblem(new Uint8Array(16), 16)).toBeUndefined()
    expect(wgslResultProblem(new Uint8Array(0), 0)).toBeUndefined()
    expect(wgslResultProblem(new Uint8Array(15), 16)).toMatch(/exactly 16 bytes; got 15/)
    expect(wgslResultProblem(new Uint8Array(17), 16)).toMatch(/exactly 16 bytes/)
    expect(wgslResultProblem({ json: 1 }, 16)).toMatch(/must be bytes; got object/)
    expect(wgslResultProblem(16, 16)).toMatch(/got number 16/)
  })
})
