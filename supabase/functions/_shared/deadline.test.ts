import assert from 'node:assert/strict'
import { DeadlineError, withDeadline } from './deadline.ts'

const after = <T>(ms: number, value: T) => new Promise<T>((r) => setTimeout(() => r(value), ms))

Deno.test('work that settles in time resolves with its value', async () => {
  assert.equal(await withDeadline(after(5, 'done'), 1000), 'done')
})

Deno.test('work that fails in time rejects with its own error', async () => {
  await assert.rejects(withDeadline(Promise.reject(new Error('boom')), 1000), /boom/)
})

Deno.test('work that outlives the deadline rejects with DeadlineError', async () => {
  let release!: () => void
  const never = new Promise<void>((r) => release = r)
  const start = performance.now()
  await assert.rejects(
    withDeadline(never, 20),
    (err) => err instanceof DeadlineError && err.ms === 20,
  )
  assert.ok(performance.now() - start < 1000)
  release()
})

Deno.test('abandoned work that rejects later is not an unhandled rejection', async () => {
  const late = new Promise((_, reject) => setTimeout(() => reject(new Error('late')), 20))
  await assert.rejects(withDeadline(late, 1), DeadlineError)
  await after(40, null) // the test would fail here if the late rejection went unhandled
})
