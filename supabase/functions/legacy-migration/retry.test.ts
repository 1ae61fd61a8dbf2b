// withRetries: bounded tries, capped exponential backoff with jitter, and giving up at once on
// errors that are not worth another try.
import assert from 'node:assert/strict'
import { backoffDelay, withRetries } from './retry.ts'

const noWait = (waits: number[]) => (ms: number) => {
  waits.push(ms)
  return Promise.resolve()
}

Deno.test('a failing call is tried up to `attempts` times with growing, capped waits', async () => {
  const waits: number[] = []
  let calls = 0
  await assert.rejects(
    withRetries(() => {
      calls++
      return Promise.reject(new Error(`try ${calls}`))
    }, {
      attempts: 5,
      baseDelayMs: 100,
      maxDelayMs: 300,
      sleep: noWait(waits),
      random: () => 0.999,
    }),
    /try 5/,
  )
  assert.equal(calls, 5)
  assert.deepEqual(waits, [99, 199, 299, 299])
})

Deno.test('a call that recovers returns its value and reports each retry', async () => {
  const retries: number[] = []
  const value = await withRetries((attempt) => {
    if (attempt < 3) return Promise.reject(new Error('busy'))
    return Promise.resolve(`done on ${attempt}`)
  }, {
    attempts: 4,
    sleep: noWait([]),
    onRetry: (_err, attempt) => retries.push(attempt),
  })
  assert.equal(value, 'done on 3')
  assert.deepEqual(retries, [1, 2])
})

Deno.test('an error that is not retryable fails on the first try', async () => {
  let calls = 0
  await assert.rejects(
    withRetries(() => {
      calls++
      return Promise.reject(new Error('forbidden'))
    }, { attempts: 4, retryable: () => false, sleep: noWait([]) }),
    /forbidden/,
  )
  assert.equal(calls, 1)
})

Deno.test('attempts must be a positive integer', async () => {
  await assert.rejects(withRetries(() => Promise.resolve(1), { attempts: 0 }), RangeError)
})

Deno.test('backoff jitter spans [0, ceiling) and the ceiling doubles up to the cap', () => {
  assert.equal(backoffDelay(1, 100, 2000, () => 0), 0)
  assert.equal(backoffDelay(3, 100, 2000, () => 0.5), 200)
  assert.equal(backoffDelay(10, 100, 2000, () => 0.5), 1000)
})
