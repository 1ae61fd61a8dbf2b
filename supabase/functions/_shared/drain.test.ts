// drainQueue against an in-memory queue, with per-row and batch handlers: batching, limits,
// the concurrency bound, timeouts, the lease and budget cutoffs, the release of unstarted rows,
// and what is counted. The same loop against Postgres is in queue-worker/queue.test.ts and
// queue-worker/app.test.ts; the SQL functions themselves in supabase/tests/queue.
import assert from 'node:assert/strict'
import { describeJobError, drainQueue, HandlerTimeoutError, type JobOutcome } from './drain.ts'
import { memoryQueue, range, row, sleep } from './drain_testing.ts'
import type { QueueRow } from './lease.ts'

Deno.test('drains in batches until the queue is empty, acking every job once', async () => {
  const { queue, log } = memoryQueue(range(250))
  const seen: string[] = []
  const result = await drainQueue({
    queue,
    handle: (r) => Promise.resolve(void seen.push(r.id)),
    limit: 1000,
    ttlSeconds: 30,
    batchSize: 100,
  })
  assert.deepEqual(
    { ...result, duration_ms: 0 },
    { processed: 250, errors: 0, dead_lettered: 0, duration_ms: 0 },
  )
  assert.deepEqual(log.leases.map((l) => l.limit), [100, 100, 100, 100])
  assert.equal(new Set(log.acked).size, 250)
  assert.equal(seen.length, 250)
})

Deno.test('stops at the limit and never leases more than it may run', async () => {
  const { queue, log } = memoryQueue(range(50))
  const result = await drainQueue({
    queue,
    handle: () => Promise.resolve(),
    limit: 25,
    ttlSeconds: 30,
    batchSize: 10,
  })
  assert.equal(result.processed, 25)
  assert.deepEqual(log.leases.map((l) => l.limit), [10, 10, 5])
})

Deno.test('a throwing handler fails only its own job, with its message', async () => {
  const { queue, log } = memoryQueue([row(1), row(2), row(3, 5, 5)])
  const result = await drainQueue({
    queue,
    handle: (r) => r.id === '1' ? Promise.resolve() : Promise.reject(new Error(`bad ${r.id}`)),
    limit: 10,
    ttlSeconds: 30,
  })
  assert.equal(result.processed, 3)
  assert.equal(result.errors, 2)
  assert.equal(result.dead_lettered, 1, 'the job on its last attempt is dead-lettered')
  assert.deepEqual(log.acked, ['1'])
  assert.deepEqual(log.failed.map((f) => f.id), ['2', '3'])
  assert.match(log.failed[0].error, /bad 2/)
})

Deno.test('a handler that outlives its timeout fails with a timeout and sees its signal', async () => {
  const { queue, log } = memoryQueue([row(1), row(2)])
  let aborted = false
  const result = await drainQueue({
    queue,
    handle: (r, { signal }) =>
      r.id === '1' ? Promise.resolve() : new Promise<void>((resolve) => {
        signal.addEventListener('abort', () => {
          aborted = true
          resolve()
        })
      }),
    limit: 10,
    ttlSeconds: 30,
    handlerTimeoutMs: 50,
  })
  assert.equal(result.errors, 1)
  assert.ok(aborted)
  assert.deepEqual(log.acked, ['1'])
  assert.match(log.failed[0].error, /timed out after 50 ms/)
})

Deno.test('no more than `concurrency` handlers run at once', async () => {
  const { queue } = memoryQueue(range(40))
  let running = 0
  let peak = 0
  await drainQueue({
    queue,
    handle: async () => {
      peak = Math.max(peak, ++running)
      await new Promise((r) => setTimeout(r, 2))
      running--
    },
    limit: 40,
    ttlSeconds: 30,
    concurrency: 3,
  })
  assert.equal(peak, 3)
})

Deno.test('no new lease is taken once the budget is spent', async () => {
  let clock = 0
  const { queue, log } = memoryQueue(range(100))
  const result = await drainQueue({
    queue,
    handle: () => {
      clock += 100 // each job "takes" 100 ms of the 1 s budget
      return Promise.resolve()
    },
    limit: 100,
    ttlSeconds: 30,
    batchSize: 5,
    budgetMs: 1000,
    now: () => clock,
  })
  assert.equal(log.leases.length, 2, 'two batches of 5 x 100 ms spend the budget')
  assert.equal(result.processed, 10)
  assert.equal(result.duration_ms, 1000)
})

Deno.test('fenced acks and fails are not counted and are reported', async () => {
  const { queue } = memoryQueue([row(1), row(2), row(3)], new Set(['2', '3']))
  const warnings: string[] = []
  const result = await drainQueue({
    queue,
    handle: (r) => r.id === '3' ? Promise.reject(new Error('x')) : Promise.resolve(),
    limit: 10,
    ttlSeconds: 30,
    warn: (line) => warnings.push(line),
  })
  assert.equal(result.processed, 1)
  assert.equal(result.errors, 0)
  assert.equal(warnings.length, 2)
})

Deno.test('one ack per batch and one fail call per group of jobs with the same error', async () => {
  // 1, 2 succeed; 3, 4 and 6 fail with the same error (6 on its last attempt); 5 differently.
  const { queue, log } = memoryQueue([row(1), row(2), row(3), row(4), row(5), row(6, 5, 5)])
  const boom = new Error('boom')
  const result = await drainQueue({
    queue,
    handle: (r) =>
      ['3', '4', '6'].includes(r.id)
        ? Promise.reject(boom)
        : r.id === '5'
        ? Promise.reject(new Error('other'))
        : Promise.resolve(),
    limit: 10,
    ttlSeconds: 30,
  })
  assert.deepEqual(log.calls.filter((c) => c !== 'lease').sort(), [
    'ack:1,2',
    'fail:3,4',
    'fail:5',
    'fail:6',
  ])
  assert.deepEqual(
    { ...result, duration_ms: 0 },
    { processed: 6, errors: 4, dead_lettered: 1, duration_ms: 0 },
  )
  assert.equal(log.failed.find((f) => f.id === '5')?.error.includes('other'), true)
})

Deno.test("the next lease goes out with the current batch's ack, not after it", async () => {
  const { queue, log } = memoryQueue(range(30))
  const result = await drainQueue({
    queue,
    handle: () => Promise.resolve(),
    limit: 30,
    ttlSeconds: 30,
    batchSize: 10,
  })
  assert.equal(result.processed, 30)
  // Each ack is sent after the following lease was sent (the last batch has none to overlap).
  assert.deepEqual(log.calls.map((c) => c.split(':')[0]), [
    'lease',
    'lease',
    'ack',
    'lease',
    'ack',
    'ack',
  ])
})

Deno.test("each job's timeout runs from its own start, not the batch's", async () => {
  // 6 jobs of ~40 ms, 2 at a time, each with 100 ms: the last two end ~120 ms into the batch.
  const { queue, log } = memoryQueue(range(6))
  const result = await drainQueue({
    queue,
    handle: () => new Promise((r) => setTimeout(r, 40)),
    limit: 6,
    ttlSeconds: 30,
    concurrency: 2,
    handlerTimeoutMs: 100,
  })
  assert.equal(result.errors, 0)
  assert.equal(log.acked.length, 6)
})

Deno.test('a handler that throws before returning a promise fails only its job', async () => {
  const { queue, log } = memoryQueue([row(1), row(2)])
  const result = await drainQueue({
    queue,
    handle: (r) => {
      if (r.id === '2') throw new Error('sync')
      return Promise.resolve()
    },
    limit: 10,
    ttlSeconds: 30,
  })
  assert.equal(result.errors, 1)
  assert.deepEqual(log.acked, ['1'])
  assert.match(log.failed[0].error, /sync/)
})

Deno.test('describeJobError keeps the message and tolerates any thrown value', () => {
  assert.match(describeJobError(new TypeError('nope')), /TypeError: nope/)
  assert.equal(describeJobError('plain'), 'plain')
  assert.equal(describeJobError({ a: 1 }), '{"a":1}')
  assert.equal(describeJobError(undefined), 'undefined')
  assert.equal(describeJobError('x'.repeat(5000)).length, 2000)
  assert.ok(describeJobError('x'.repeat(5000)).endsWith('…'), 'a cut error says so')
  assert.equal(describeJobError('x'.repeat(2000)), 'x'.repeat(2000), 'an uncut one is verbatim')
  assert.equal(describeJobError(new HandlerTimeoutError(50)), 'handler timed out after 50 ms')
})

/** A `now` for drainQueue on the real clock that remembers its first reading (the run's start). */
function recordingClock() {
  const clock = { start: NaN, now: () => performance.now() }
  clock.now = () => {
    const t = performance.now()
    if (Number.isNaN(clock.start)) clock.start = t
    return t
  }
  return clock
}

Deno.test('no job starts after the budget; unstarted jobs are released with their attempt back', async () => {
  // 40 jobs x 50 ms, 2 at a time, a 300 ms budget: the batch alone would take 1 s.
  const { queue, log } = memoryQueue(range(40))
  const clock = recordingClock()
  const starts: number[] = []
  const result = await drainQueue({
    queue,
    handle: async () => {
      starts.push(performance.now() - clock.start)
      await sleep(50)
    },
    limit: 40,
    ttlSeconds: 30,
    batchSize: 40,
    concurrency: 2,
    budgetMs: 300,
    now: clock.now,
  })
  assert.ok(starts.length > 0 && starts.length < 40, `${starts.length} jobs started`)
  assert.ok(Math.max(...starts) < 300, `a job started at ${Math.max(...starts)} ms`)
  assert.ok(result.duration_ms < 400, `the run took ${result.duration_ms} ms`)
  // A job started just before the end has until the end: it may time out then (and is failed).
  assert.equal(result.processed, starts.length, 'every started job was acked or failed')
  assert.equal(log.acked.length + log.failed.length, starts.length)
  for (const f of log.failed) assert.match(f.error, /timed out/)
  assert.ok(log.acked.length >= 10, `${log.acked.length} acked`)
  assert.equal(log.released.length, 40 - starts.length, 'the others were released')
  const ids = [...log.acked, ...log.failed.map((f) => f.id), ...log.released]
  assert.equal(new Set(ids).size, 40, 'each job acked, failed or released, once')
  for (const id of log.released) assert.equal(log.attempts.get(id), 0, `job ${id}: attempt back`)
  for (const id of log.acked) assert.equal(log.attempts.get(id), 1)
})

Deno.test('no job starts past 80 % of its lease, and every ack lands inside the lease', async () => {
  // Same jobs, a 1 s lease and plenty of budget: a batch may run only 800 ms; the rest are
  // released and leased again by the next batch.
  const { queue, log } = memoryQueue(range(40))
  const clock = recordingClock()
  const starts: { at: number; lease: number }[] = []
  const result = await drainQueue({
    queue,
    handle: async () => {
      starts.push({ at: performance.now(), lease: log.leaseTimes.length })
      await sleep(50)
    },
    limit: 40,
    ttlSeconds: 1,
    batchSize: 40,
    concurrency: 2,
    budgetMs: 10_000,
    now: clock.now,
  })
  // Released rows are leased again at once; each job ran exactly once (a few, started just
  // before a cutoff, timed out there and were failed).
  assert.equal(result.processed, 40, 'all 40 ran in the end')
  assert.equal(starts.length, 40, 'each exactly once')
  assert.equal(log.acked.length + log.failed.length, 40)
  assert.ok(log.released.length > 0, 'the first batch released what it could not start')
  assert.ok(log.leases.length >= 2)
  for (const s of starts) {
    const since = s.at - log.leaseTimes[s.lease - 1]
    assert.ok(since < 800, `a job started ${since} ms into its lease`)
  }
  // Batch k's ack goes out with lease k + 1; each must be well inside its 1 s lease.
  log.ackTimes.forEach((t, k) => {
    const since = t - log.leaseTimes[k]
    assert.ok(since < 900, `batch ${k + 1} was acked ${since} ms into its 1 s lease`)
  })
  for (const id of log.acked) assert.equal(log.attempts.get(id), 1, `job ${id} used one attempt`)
  // The release went out before the next lease, which took the released rows.
  const release = log.calls.findIndex((c) => c.startsWith('release:'))
  assert.ok(release > 0 && log.calls.indexOf('lease', 1) > release, log.calls.join(' '))
})

Deno.test('a handler that ignores its signal is failed at its deadline and the run ends in budget', async () => {
  const { queue, log } = memoryQueue([row(1), row(2)])
  let ignored: AbortSignal | undefined
  const result = await drainQueue({
    queue,
    handle: (r, { signal }) => {
      if (r.id === '1') return Promise.resolve()
      ignored = signal
      return sleep(2_000) // never looks at the signal
    },
    limit: 10,
    ttlSeconds: 30,
    handlerTimeoutMs: 10_000,
    budgetMs: 300,
  })
  assert.ok(result.duration_ms < 400, `the run took ${result.duration_ms} ms`)
  assert.equal(result.errors, 1)
  assert.equal(result.processed, 2)
  assert.deepEqual(log.acked, ['1'])
  assert.match(log.failed[0].error, /timed out after \d+ ms/)
  assert.ok(ignored?.aborted, 'its signal fired at the deadline')
  await sleep(1_750) // let the ignored handler end, so the test leaks no timer
})

Deno.test('drainQueue refuses concurrency < 1 and a timeout < 1 before leasing', async () => {
  for (const bad of [{ concurrency: 0 }, { concurrency: 1.5 }, { handlerTimeoutMs: 0 }]) {
    const { queue, log } = memoryQueue(range(3))
    await assert.rejects(
      drainQueue({ queue, handle: () => Promise.resolve(), limit: 3, ttlSeconds: 30, ...bad }),
      RangeError,
    )
    assert.equal(log.leases.length, 0, JSON.stringify(bad))
  }
})

Deno.test('drainQueue refuses both or neither of handle and handleBatch before leasing', async () => {
  const handle = () => Promise.resolve()
  const handleBatch = (rows: readonly QueueRow[]) =>
    Promise.resolve(rows.map((): JobOutcome => ({ ok: true })))
  for (const handlers of [{}, { handle, handleBatch }]) {
    const { queue, log } = memoryQueue(range(3))
    await assert.rejects(
      // deno-lint-ignore no-explicit-any
      drainQueue({ queue, limit: 3, ttlSeconds: 30, ...handlers } as any),
      /exactly one of handle and handleBatch/,
    )
    assert.equal(log.leases.length, 0)
  }
})

// ---------------------------------------------------------------------------------------------
// Batch handlers
// ---------------------------------------------------------------------------------------------

Deno.test('a batch handler gets each lease whole and its per-row outcomes are acked or failed', async () => {
  // 1..7 in batches of 3; even ids fail with one error, 6 (on its last attempt) is dead-lettered.
  const rows = range(7)
  rows[5] = row(6, 5, 5)
  const { queue, log } = memoryQueue(rows)
  const batches: string[][] = []
  const result = await drainQueue({
    queue,
    handleBatch: (batch) => {
      batches.push(batch.map((r) => r.id))
      return Promise.resolve(
        batch.map((r): JobOutcome =>
          Number(r.id) % 2 === 0 ? { ok: false, error: 'even' } : { ok: true }
        ),
      )
    },
    limit: 10,
    ttlSeconds: 30,
    batchSize: 3,
  })
  assert.deepEqual(batches, [['1', '2', '3'], ['4', '5', '6'], ['7']])
  assert.deepEqual(log.calls.filter((c) => c !== 'lease'), [
    'ack:1,3',
    'fail:2',
    'ack:5',
    'fail:4',
    'fail:6',
    'ack:7',
  ])
  assert.deepEqual(
    { ...result, duration_ms: 0 },
    { processed: 7, errors: 3, dead_lettered: 1, duration_ms: 0 },
  )
  assert.deepEqual(log.failed.map((f) => f.error), ['even', 'even', 'even'])
})

Deno.test('a rejecting batch handler fails its whole batch, leases no more, and rethrows', async () => {
  const { queue, log } = memoryQueue(range(6))
  const boom = new Error('connection reset')
  await assert.rejects(
    drainQueue({
      queue,
      handleBatch: () => Promise.reject(boom),
      limit: 6,
      ttlSeconds: 30,
      batchSize: 3,
    }),
    boom,
  )
  assert.deepEqual(log.calls, ['lease', 'fail:1,2,3'], 'one fail call, and no second lease')
  assert.match(log.failed[0].error, /connection reset/)
})

Deno.test('a batch handler that resolves the wrong number of outcomes fails its batch', async () => {
  const { queue, log } = memoryQueue(range(2))
  await assert.rejects(
    drainQueue({
      queue,
      handleBatch: () => Promise.resolve([{ ok: true }]),
      limit: 2,
      ttlSeconds: 30,
    }),
    /one outcome per row: 2 rows, got 1 outcomes/,
  )
  assert.deepEqual(log.failed.map((f) => f.id), ['1', '2'])
  assert.deepEqual(log.acked, [])
})

Deno.test('a batch handler past its deadline fails every row with a timeout and the run goes on', async () => {
  const { queue, log } = memoryQueue(range(4))
  const signals: AbortSignal[] = []
  const result = await drainQueue({
    queue,
    handleBatch: (batch, { signal }) => {
      signals.push(signal)
      // The first batch hangs until its signal fires; the second succeeds.
      return signals.length === 1
        ? new Promise((resolve) => signal.addEventListener('abort', () => resolve([])))
        : Promise.resolve(batch.map((): JobOutcome => ({ ok: true })))
    },
    limit: 4,
    ttlSeconds: 30,
    batchSize: 2,
    handlerTimeoutMs: 50,
  })
  assert.ok(signals[0].aborted)
  assert.deepEqual(log.failed, [
    { id: '1', error: 'handler timed out after 50 ms' },
    { id: '2', error: 'handler timed out after 50 ms' },
  ])
  assert.deepEqual(log.acked, ['3', '4'])
  assert.deepEqual({ ...result, duration_ms: 0 }, {
    processed: 4,
    errors: 2,
    dead_lettered: 0,
    duration_ms: 0,
  })
})

Deno.test('a batch leased too late to start is released whole, its attempts given back', async () => {
  // The lease call itself eats the whole 1 s budget (a slow database): nothing may start.
  let clock = 0
  const { queue, log } = memoryQueue(range(3))
  let calls = 0
  const result = await drainQueue({
    queue: {
      ...queue,
      lease: (request) => {
        clock += 1000
        return queue.lease(request)
      },
    },
    handleBatch: (batch) => {
      calls++
      return Promise.resolve(batch.map((): JobOutcome => ({ ok: true })))
    },
    limit: 3,
    ttlSeconds: 30,
    budgetMs: 1000,
    now: () => clock,
  })
  assert.equal(calls, 0)
  assert.deepEqual(log.released, ['1', '2', '3'])
  for (const id of log.released) assert.equal(log.attempts.get(id), 0)
  assert.equal(log.leases.length, 1, 'no lease after the budget is spent')
  assert.equal(result.processed, 0)
})

Deno.test("once the caller's signal fires no job starts, and the unstarted are released", async () => {
  const { queue, log } = memoryQueue(range(20))
  const caller = new AbortController()
  let started = 0
  const result = await drainQueue({
    queue,
    handle: async () => {
      if (++started === 3) caller.abort()
      await sleep(5)
    },
    limit: 20,
    ttlSeconds: 30,
    batchSize: 10,
    concurrency: 1,
    signal: caller.signal,
  })
  assert.equal(started, 3)
  assert.equal(result.processed, 3, 'the started jobs are still acked')
  assert.deepEqual(log.acked, ['1', '2', '3'])
  assert.equal(log.released.length, 7, 'the rest of the batch is released')
  assert.equal(log.leases.length, 1, 'no lease after the signal')
  assert.ok(log.leases[0].signal === caller.signal, 'the lease call can be cancelled too')
})

Deno.test('a caller already gone leases nothing', async () => {
  const { queue, log } = memoryQueue(range(5))
  const result = await drainQueue({
    queue,
    handle: () => Promise.resolve(),
    limit: 5,
    ttlSeconds: 30,
    signal: AbortSignal.abort(),
  })
  assert.equal(result.processed, 0)
  assert.deepEqual(log.calls, [])
})
