// The run's bookkeeping against an in-memory queue and assessment: batching, the limit, one
// assessment per distinct interest, ack/fail routing, lost leases, the time budget and the
// deadline. The database side is covered by journey.test.ts and the pgTAP files in
// supabase/tests/discovery.
import assert from 'node:assert/strict'
import type { DiscoveryItem, LeasedQueue, LeaseRequest } from '../_shared/lease.ts'
import { row } from '../_shared/drain_testing.ts'
import {
  type AssessInterests,
  AssessmentError,
  type InterestAssessment,
  runDiscovery,
  WORKER,
} from './run.ts'

interface Calls {
  lease: LeaseRequest[]
  assess: string[][]
  ack: string[][]
  fail: { ids: string[]; error: string }[]
}

/**
 * The queue in memory, and an assessment where `outcome` decides each interest's result.
 * `override` replaces the assessment, `fenced` lists ids whose ack or fail lost its lease.
 */
function memoryDiscovery(
  items: DiscoveryItem[],
  outcome: (interestId: string) => Partial<InterestAssessment> = () => ({}),
  options: { assess?: AssessInterests; fenced?: Set<string> } = {},
) {
  const pending = [...items]
  const fenced = options.fenced ?? new Set<string>()
  const calls: Calls = { lease: [], assess: [], ack: [], fail: [] }
  let token = 0
  const held = (ids: readonly string[]) => ids.filter((id) => !fenced.has(id)).length
  const queue: LeasedQueue<DiscoveryItem> = {
    name: 'memory_discovery_queue',
    lease(request) {
      calls.lease.push(request)
      const taken = pending.splice(0, request.limit)
      return Promise.resolve({ token: taken.length ? `token-${++token}` : null, rows: taken })
    },
    ack(ids) {
      calls.ack.push([...ids])
      return Promise.resolve(held(ids))
    },
    fail(ids, _token, error) {
      calls.fail.push({ ids: [...ids], error })
      return Promise.resolve(held(ids))
    },
    release: (ids) => Promise.resolve(ids.length),
  }
  const assess: AssessInterests = options.assess ?? ((interestIds) => {
    calls.assess.push([...interestIds])
    return Promise.resolve(interestIds.map((interest_id) => ({
      interest_id,
      ok: true,
      error: null,
      gaps_opened: 0,
      gaps_resolved: 0,
      ...outcome(interest_id),
    })))
  })
  return { deps: { queue, assess }, calls }
}

const item = (id: number, interest: string): DiscoveryItem => ({
  ...row(id),
  interest_id: interest,
  user_id: '00000000-0000-0000-0000-000000000001',
})

const ids = (...n: number[]) => n.map(String)

const base = { ttlSeconds: 120, gapThreshold: 3, warn: () => {} }

Deno.test('an empty queue answers zeros after one lease', async () => {
  const { deps, calls } = memoryDiscovery([])
  const result = await runDiscovery(deps, { ...base, limit: 100 })
  assert.deepEqual({ ...result, duration_ms: 0 }, {
    processed: 0,
    errors: 0,
    gaps_opened: 0,
    gaps_resolved: 0,
    duration_ms: 0,
  })
  assert.deepEqual(calls.lease.map((l) => l.limit), [100])
})

Deno.test('items are leased in batches up to the limit and no further, under its worker name', async () => {
  const items = Array.from({ length: 25 }, (_, i) => item(i + 1, `i${i % 3}`))
  const { deps, calls } = memoryDiscovery(items)
  const result = await runDiscovery(deps, { ...base, limit: 22, batchSize: 10 })
  assert.equal(result.processed, 22)
  assert.deepEqual(calls.lease.map((l) => l.limit), [10, 10, 2])
  assert.deepEqual(calls.ack.flat(), Array.from({ length: 22 }, (_, i) => String(i + 1)))
  for (const lease of calls.lease) {
    // No caller's signal here (the app passes its request's).
    assert.deepEqual(lease, {
      limit: lease.limit,
      ttlSeconds: 120,
      worker: WORKER,
      signal: undefined,
    })
  }
})

Deno.test('each distinct interest in a batch is assessed once', async () => {
  const items = [item(1, 'a'), item(2, 'b'), item(3, 'a'), item(4, 'a')]
  const { deps, calls } = memoryDiscovery(items, () => ({ gaps_opened: 1 }))
  const result = await runDiscovery(deps, { ...base, limit: 100 })
  assert.deepEqual(calls.assess, [['a', 'b']])
  assert.equal(result.gaps_opened, 2, 'gaps are counted per interest, not per item')
  assert.equal(result.processed, 4)
})

Deno.test('failed interests fail their items grouped by error; the rest are acked', async () => {
  const items = [item(1, 'good'), item(2, 'bad'), item(3, 'worse'), item(4, 'bad')]
  const { deps, calls } = memoryDiscovery(
    items,
    (id) =>
      id === 'good' ? { gaps_resolved: 1 } : { ok: false, error: `${id} broke`, gaps_opened: 5 },
  )
  const result = await runDiscovery(deps, { ...base, limit: 100 })
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
  const { deps, calls } = memoryDiscovery([item(1, 'a')], () => ({}), {
    assess: () => Promise.resolve([]),
  })
  const result = await runDiscovery(deps, { ...base, limit: 10 })
  assert.deepEqual(calls.fail, [{ ids: ids(1), error: 'interest was not assessed' }])
  assert.equal(result.errors, 1)
})

Deno.test('a failing assessment call fails the whole batch and rethrows', async () => {
  const boom = Object.assign(new Error('connection reset'), { code: 'ECONNRESET' })
  const { deps, calls } = memoryDiscovery([item(1, 'a'), item(2, 'b')], () => ({}), {
    assess: () => Promise.reject(boom),
  })
  await assert.rejects(
    runDiscovery(deps, { ...base, limit: 10 }),
    (err: unknown) => err instanceof AssessmentError && err.cause === boom,
  )
  assert.deepEqual(calls.fail.map((f) => f.ids), [ids(1, 2)])
  assert.ok(
    calls.fail[0].error.startsWith(
      'AssessmentError: assessment failed: connection reset (ECONNRESET)',
    ),
    calls.fail[0].error,
  )
  assert.deepEqual(calls.ack, [])
  assert.equal(calls.lease.length, 1, 'the run ends: no further lease')
})

Deno.test('items whose lease was lost are reported and not counted', async () => {
  const warnings: string[] = []
  const { deps } = memoryDiscovery(
    [item(1, 'a'), item(2, 'a'), item(3, 'b')],
    (id) => id === 'b' ? { ok: false, error: 'no' } : {},
    { fenced: new Set(['2', '3']) },
  )
  const result = await runDiscovery(deps, {
    ...base,
    limit: 10,
    warn: (m) => warnings.push(m),
  })
  assert.equal(result.processed, 1)
  assert.equal(result.errors, 0)
  assert.equal(warnings.length, 2)
  assert.match(warnings.find((w) => w.includes('ack')) ?? '', /1 of 2 acks were fenced out/)
  assert.match(warnings.find((w) => w.includes('fail')) ?? '', /fail of job 3 was fenced out/)
})

Deno.test('very long errors are truncated before they are stored', async () => {
  const { deps, calls } = memoryDiscovery(
    [item(1, 'a')],
    () => ({ ok: false, error: 'x'.repeat(5000) }),
  )
  await runDiscovery(deps, { ...base, limit: 10 })
  assert.equal(calls.fail[0].error.length, 2000)
  assert.ok(calls.fail[0].error.endsWith('…'))
})

Deno.test('no new batch is leased once the time budget is spent', async () => {
  let now = 0
  const items = Array.from({ length: 30 }, (_, i) => item(i + 1, 'a'))
  const { deps, calls } = memoryDiscovery(items, () => {
    now += 600 // each assessment "takes" 600 ms
    return {}
  })
  const result = await runDiscovery(deps, {
    ...base,
    limit: 30,
    batchSize: 10,
    budgetMs: 1000,
    now: () => now,
  })
  assert.deepEqual(calls.lease.map((l) => l.limit), [10, 10])
  assert.equal(result.processed, 20)
  assert.equal(result.duration_ms, 1200)
})

Deno.test('an assessment still running at the deadline is aborted and its items fail with a timeout', async () => {
  let signal: AbortSignal | undefined
  const { deps, calls } = memoryDiscovery([item(1, 'a'), item(2, 'b')], () => ({}), {
    assess: (_ids, _threshold, s) => {
      signal = s
      // Ends only when aborted, as a cancelled query does.
      return new Promise((_, reject) => s.addEventListener('abort', () => reject(s.reason)))
    },
  })
  const result = await runDiscovery(deps, { ...base, limit: 10, budgetMs: 300 })
  assert.ok(signal?.aborted, 'the assessment was told to stop')
  assert.deepEqual(calls.fail.map((f) => f.ids), [ids(1, 2)])
  assert.match(calls.fail[0].error, /^handler timed out after \d+ ms$/)
  assert.deepEqual({ ...result, duration_ms: 0 }, {
    processed: 2,
    errors: 2,
    gaps_opened: 0,
    gaps_resolved: 0,
    duration_ms: 0,
  })
})
