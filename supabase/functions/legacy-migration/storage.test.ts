// Storage errors as the migration classifies them, and the metrics every call leaves.
import assert from 'node:assert/strict'
import { createUsageMetrics } from '../_shared/metrics.ts'
import { instrumentStorage, type MigrationStorage, StorageCallError } from './storage.ts'

Deno.test('network errors, 429 and 5xx are worth a retry; other answers are final', () => {
  const retryable = (status?: number) => new StorageCallError('copy', 'b', 'x', status).retryable
  assert.equal(retryable(undefined), true)
  assert.equal(retryable(429), true)
  assert.equal(retryable(500), true)
  assert.equal(retryable(503), true)
  assert.equal(retryable(400), false)
  assert.equal(retryable(403), false)
  assert.equal(retryable(404), false)
  assert.equal(new StorageCallError('copy', 'b', 'x', 409).alreadyExists, true)
})

Deno.test('every call is timed into a storage.op metric, failures with their error', async () => {
  const lines: string[] = []
  const metrics = createUsageMetrics({
    functionName: 'legacy-migration',
    env: { ENABLE_USAGE_METRICS: true },
    log: (line) => lines.push(line),
  })
  let clock = 0
  const inner: MigrationStorage = {
    list: () => {
      clock += 7
      return Promise.resolve(['u/a.png'])
    },
    copy: () => {
      clock += 3
      return Promise.reject(
        new StorageCallError('copy', 'casfolio-legacy', 'Object not found', 404),
      )
    },
    remove: () => Promise.resolve(),
  }
  const storage = instrumentStorage(inner, metrics, () => clock, { user_id: 'u', run_id: 'r' })
  assert.deepEqual(await storage.list('casfolio-legacy', 'u'), ['u/a.png'])
  await assert.rejects(storage.copy('casfolio-legacy', 'u/a.png', 'activity-assets', 'u/x/a.png'))
  const events = lines.map((l) => JSON.parse(l))
  assert.deepEqual(events.map((e) => [e.event, e.props]), [
    ['storage.op', {
      op: 'list',
      bucket: 'casfolio-legacy',
      ok: true,
      duration_ms: 7,
      user_id: 'u',
      run_id: 'r',
    }],
    ['storage.op', {
      op: 'copy',
      bucket: 'casfolio-legacy',
      ok: false,
      duration_ms: 3,
      error: 'Object not found',
      status: 404,
      user_id: 'u',
      run_id: 'r',
    }],
  ])
})
