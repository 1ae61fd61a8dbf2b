// The run loop's bookkeeping against an in-memory store: batching, the limit, one assessment per
// distinct interest, ack/fail routing, lost leases, and the time budget. The database side is
// covered by store.test.ts and pgTAP.
import assert from 'node:assert/strict'
import {
  type DiscoveryItem,
  type DiscoveryStore,
  type InterestAssessment,
  runDiscovery,
} from './run.ts'

interface Calls {
  lease: number[]
  assess: string[][]
  ack: string[][]
  fail: { ids: string[]; error: string }[]
}

/** A queue in memory; `outcome` decides each interest's assessment. */
function memoryStore(
  items: DiscoveryItem[],
  outcome: (interestId: string) => Partial<InterestAssessment> = () => ({}),
  overrides: Partial<DiscoveryStore> = {},
): { store: DiscoveryStore; calls: Calls } {
  const queue = [...items]
  const calls: Calls = { lease: [], assess: [], ack: [], fail: [] }
  let token = 0
  const store: DiscoveryStore = {
    lease(limit) {
      calls.lease.push(limit)
      const taken = queue.splice(0, limit)
      return Promise.resolve(
        taken.length ? { lease_token: `token-${++token}`, items: taken } : null,
      )
    },
    assess(interestIds) {
      calls.assess.push(interestIds)
      return Promise.resolve(interestIds.map((interest_id) => ({
        interest_id,
        ok: true,
        error: null,
        gaps_opened: 0,
        gaps_resolved: 0,
        ...outcome(interest_id),
      })))
    },
    ack(ids) {
      calls.ack.push(ids)
      return Promise.resolve(ids.length)
    },
    fail(ids, _token, error) {
      calls.fail.push({ ids, error })
      return Promise.resolve(ids.length)
    },
    ...overrides,
  }
  return { store, calls }
}

const item = (id: number, interest: string): DiscoveryItem => ({
  id: String(id),
  interest_id: interest,
  user_id: '00000000-0000-0000-0000-000000000001',
  attempts: 1,
  max_attempts: 5,
})

const ids = (...n: number[]) => n.map(String)

const base = { ttlSeconds: 120, gapThreshold: 3, warn: () => {} }

Deno.test('an empty queue answers zeros after one lease', async () => {
  const { store, calls } = memoryStore([])
  const result = await runDiscovery(store, { ...base, limit: 100 })
  assert.deepEqual({ ...result, duration_ms: 0 }, {
    processed: 0,
    errors: 0,
    gaps_opened: 0,
    gaps_resolved: 0,
    duration_ms: 0,
  })
  assert.deepEqual(calls.lease, [100])
})

Deno.test('items are leased in batches up to the limit and no further', async () => {
  const items = Array.from({ length: 25 }, (_, i) => item(i + 1, `i${i % 3}`))
  const { store, calls } = memoryStore(items)
  const result = await runDiscovery(store, { ...base, limit: 22, batchSize: 10 })
  assert.equal(result.processed, 22)
  assert.deepEqual(calls.lease, [10, 10, 2])
  assert.deepEqual(calls.ack.flat(), Array.from({ length: 22 }, (_, i) => String(i + 1)))
})

Deno.test('each distinct interest in a batch is assessed once', async () => {
  const items = [item(1, 'a'), item(2, 'b'), item(3, 'a'), item(4, 'a')]
  const { store, calls } = memoryStore(items, () => ({ gaps_opened: 1 }))
  const result = await runDiscovery(store, { ...base, limit: 100 })
  assert.deepEqual(calls.assess, [['a', 'b']])
  assert.equal(result.gaps_opened, 2, 'gaps are counted per interest, not per item')
  assert.equal(result.processed, 4)
})

Deno.test('failed interests fail their items grouped by error; the rest are acked', async () => {
  const items = [item(1, 'good'), item(2, 'bad'), item(3, 'worse'), item(4, 'bad')]
  const { store, calls } = memoryStore(
    items,
    (id) =>
      id === 'good' ? { gaps_resolved: 1 } : { ok: false, error: `${id} broke`, gaps_opened: 5 },
  )
  const result = await runDiscovery(store, { ...base, limit: 100 })
  assert.deepEqual(calls.ack, [ids(1)])
  assert.deepEqual(calls.fail, [
    { ids: ids(2, 4), error: 'bad broke' },
    { ids: ids(3), error: 'worse broke' },
  ])
  assert.equal(result.processed, 4)
  assert.equal(result.errors, 3)
  assert.equal(result.gaps_opened, 0, 'a failed interest contributes no gap counts')
  assert.equal(result.gaps_resolved, 1)
})

Deno.test('an interest missing from the assessment fails its items', async () => {
  const { store, calls } = memoryStore([item(1, 'a')], () => ({}), {
    assess: () => Promise.resolve([]),
  })
  const result = await runDiscovery(store, { ...base, limit: 10 })
  assert.deepEqual(calls.fail, [{ ids: ids(1), error: 'interest was not assessed' }])
  assert.equal(result.errors, 1)
})

Deno.test('a failing assessment call fails the whole batch and rethrows', async () => {
  const boom = Object.assign(new Error('connection reset'), { code: 'ECONNRESET' })
  const { store, calls } = memoryStore([item(1, 'a'), item(2, 'b')], () => ({}), {
    assess: () => Promise.reject(boom),
  })
  await assert.rejects(runDiscovery(store, { ...base, limit: 10 }), boom)
  assert.deepEqual(calls.fail, [{
    ids: ids(1, 2),
    error: 'assessment failed: connection reset (ECONNRESET)',
  }])
})

Deno.test('items whose lease was lost are reported and not counted', async () => {
  const warnings: string[] = []
  const { store } = memoryStore(
    [item(1, 'a'), item(2, 'a'), item(3, 'b')],
    (id) => id === 'b' ? { ok: false, error: 'no' } : {},
    { ack: () => Promise.resolve(1), fail: () => Promise.resolve(0) },
  )
  const result = await runDiscovery(store, {
    ...base,
    limit: 10,
    warn: (m) => warnings.push(m),
  })
  assert.equal(result.processed, 1)
  assert.equal(result.errors, 0)
  assert.deepEqual(warnings, [
    '1 item(s) lost their lease before ack (ran past the TTL?)',
    '1 item(s) lost their lease before fail',
  ])
})

Deno.test('very long errors are truncated before they are stored', async () => {
  const { store, calls } = memoryStore(
    [item(1, 'a')],
    () => ({ ok: false, error: 'x'.repeat(5000) }),
  )
  await runDiscovery(store, { ...base, limit: 10 })
  assert.equal(calls.fail[0].error.length, 2000)
  assert.ok(calls.fail[0].error.endsWith('…'))
})

Deno.test('no new batch is leased once the time budget is spent', async () => {
  let now = 0
  const items = Array.from({ length: 30 }, (_, i) => item(i + 1, 'a'))
  const { store, calls } = memoryStore(items, () => {
    now += 600 // each assessment "takes" 600 ms
    return {}
  })
  const result = await runDiscovery(store, {
    ...base,
    limit: 30,
    batchSize: 10,
    budgetMs: 1000,
    clock: () => now,
  })
  assert.deepEqual(calls.lease, [10, 10])
  assert.equal(result.processed, 20)
  assert.equal(result.duration_ms, 1200)
})
