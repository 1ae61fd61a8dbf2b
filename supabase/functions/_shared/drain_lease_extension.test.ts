// ctx.extendLease in drainQueue, against an in-memory queue: a job that extends runs past its
// original lease and is acked; the extension covers the whole batch and is cut to the budget; a
// job whose lease was stolen is stopped (its signal fires, its ack never goes out, its fail is
// fenced), and so is every other running job whose rows were stolen; rows found lost are not
// started. Against Postgres: queue_sql.test.ts.
import assert from 'node:assert/strict'
import { drainQueue, LeaseLostError } from './drain.ts'
import { memoryQueue, range, row, sleep } from './drain_testing.ts'

Deno.test('a job that extends its lease runs past the original lease and is acked', async () => {
  const { queue, log } = memoryQueue([row(1)])
  const started = performance.now()
  let held: boolean | undefined
  let aborted: boolean | undefined
  const result = await drainQueue({
    queue,
    handle: async (_job, ctx) => {
      await sleep(400)
      held = await ctx.extendLease(3)
      // Past the first lease's 80 % mark (800 ms) and past the lease itself (1 s).
      await sleep(900)
      aborted = ctx.signal.aborted
    },
    limit: 1,
    ttlSeconds: 1,
    handlerTimeoutMs: 10_000,
    budgetMs: 10_000,
  })
  assert.ok(performance.now() - started > 1_200, 'the job ran longer than its first lease')
  assert.equal(held, true, 'the extension answered that the row is still held')
  assert.equal(aborted, false, "the signal did not fire at the first lease's cutoff")
  assert.deepEqual({ ...result, duration_ms: 0 }, {
    processed: 1,
    errors: 0,
    dead_lettered: 0,
    duration_ms: 0,
  })
  assert.deepEqual(log.extends, [{ ids: ['1'], seconds: 3 }])
  assert.deepEqual(log.calls, ['lease', 'extend:1', 'ack:1'])
})

Deno.test('an extended job still times out at its new deadline', async () => {
  const { queue, log } = memoryQueue([row(1)])
  let started = 0
  let abortedAt: number | undefined
  let handler: Promise<void> | undefined
  const result = await drainQueue({
    queue,
    handle: (_job, ctx) =>
      handler = (async () => {
        started = performance.now()
        ctx.signal.addEventListener('abort', () => abortedAt = performance.now())
        await sleep(500)
        // A 1 s lease from now: the deadline moves from 800 ms to about 1,300 ms, not forever.
        await ctx.extendLease(1)
        await sleep(3_000)
      })(),
    limit: 1,
    ttlSeconds: 1,
    handlerTimeoutMs: 10_000,
    budgetMs: 10_000,
  })
  assert.ok(abortedAt !== undefined, 'the signal fired')
  const after = abortedAt - started
  // Past the first lease's cutoff by far more than timer jitter: the extension moved it. The
  // upper bound only has to tell "a deadline" from "none", so it is loose for a loaded machine.
  assert.ok(after > 1_100, `fired ${Math.round(after)} ms after the start, not at the first cutoff`)
  assert.ok(after < 2_800, `fired ${Math.round(after)} ms after the start, not with the handler`)
  assert.equal(result.errors, 1)
  assert.match(log.failed[0].error, /^handler timed out after \d+ ms$/)
  await handler // the ignored handler ends, so the test leaks no timer
})

Deno.test("one job's extension covers its whole batch, cut to the remaining budget", async () => {
  const { queue, log } = memoryQueue(range(3))
  await drainQueue({
    queue,
    handle: async (job, ctx) => {
      if (job.id === '2') await ctx.extendLease(3600)
    },
    limit: 3,
    ttlSeconds: 30,
    budgetMs: 2_500,
  })
  assert.deepEqual(
    log.extends,
    [{ ids: ['1', '2', '3'], seconds: 2 }],
    'every row of the batch (done-but-unacked ones too), for the 2 whole seconds left',
  )
})

Deno.test('a batch handler extends the lease of its batch', async () => {
  const { queue, log } = memoryQueue(range(2))
  const result = await drainQueue({
    queue,
    handleBatch: async (rows, ctx) => {
      assert.equal(await ctx.extendLease(5), true)
      await sleep(1_000) // past the first lease's cutoff (800 ms)
      return rows.map(() => ({ ok: true as const }))
    },
    limit: 2,
    ttlSeconds: 1,
    handlerTimeoutMs: 10_000,
  })
  assert.equal(result.processed, 2)
  assert.deepEqual(log.extends, [{ ids: ['1', '2'], seconds: 5 }])
})

Deno.test('a job whose lease was stolen is stopped: its signal fires and its ack never goes out', async () => {
  const stolen = new Set<string>()
  const { queue, log } = memoryQueue([row(1)], stolen)
  const warnings: string[] = []
  let held: boolean | undefined
  let reason: unknown
  const result = await drainQueue({
    queue,
    handle: async (job, ctx) => {
      stolen.add(job.id) // the lease expired and another worker claimed the row
      held = await ctx.extendLease(30)
      reason = ctx.signal.aborted ? ctx.signal.reason : undefined
      // A handler that ignores its signal and "succeeds" anyway: too late, the job has ended.
    },
    limit: 1,
    ttlSeconds: 30,
    warn: (line) => warnings.push(line),
  })
  assert.equal(held, false)
  assert.ok(reason instanceof LeaseLostError, `signal fired with ${reason}`)
  assert.ok(!log.calls.some((c) => c.startsWith('ack')), 'no ack was sent for it')
  assert.deepEqual(log.calls, ['lease', 'extend:1', 'fail:1'])
  assert.deepEqual({ ...result, duration_ms: 0 }, {
    processed: 0,
    errors: 0,
    dead_lettered: 0,
    duration_ms: 0,
  }, 'the fenced fail counts for nothing')
  assert.match(warnings.join('\n'), /fail of job 1 was fenced out: the lease was lost/)
})

Deno.test("one job's extension stops every running job whose rows were stolen", async () => {
  const stolen = new Set<string>()
  const { queue, log } = memoryQueue(range(2), stolen)
  const reasons = new Map<string, unknown>()
  const handlerEnds: Promise<void>[] = []
  let release!: () => void
  const bothRunning = new Promise<void>((r) => release = r)
  let running = 0
  const result = await drainQueue({
    queue,
    handle: (job, ctx) => {
      const ended = (async () => {
        if (++running === 2) release()
        await bothRunning
        if (job.id === '1') {
          stolen.add('1').add('2') // the lease expired; another worker claimed both rows
          await ctx.extendLease(30)
        } else {
          // Job 2 never asks: it waits on its signal, as a long query or fetch would.
          await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }))
        }
        reasons.set(job.id, ctx.signal.aborted ? ctx.signal.reason : undefined)
      })()
      handlerEnds.push(ended)
      return ended
    },
    limit: 2,
    ttlSeconds: 30,
    concurrency: 2,
    handlerTimeoutMs: 5_000,
    warn: () => {},
  })
  // Job 2's handler ended because its signal fired, long before its 5 s timeout.
  await Promise.all(handlerEnds)
  for (const id of ['1', '2']) {
    assert.ok(
      reasons.get(id) instanceof LeaseLostError,
      `job ${id}: signal fired with ${reasons.get(id)}`,
    )
  }
  assert.ok(
    result.duration_ms < 4_000,
    `the run did not wait for a timeout (${result.duration_ms} ms)`,
  )
  assert.deepEqual(log.acked, [], 'no ack landed')
  assert.ok(!log.calls.some((c) => c.startsWith('ack')), 'no ack was sent')
  assert.deepEqual(log.calls, ['lease', 'extend:1,2', 'fail:1,2'])
  assert.deepEqual({ ...result, duration_ms: 0 }, {
    processed: 0,
    errors: 0,
    dead_lettered: 0,
    duration_ms: 0,
  })
})

Deno.test('rows an extension found lost are not started; the rest of the batch runs', async () => {
  const stolen = new Set<string>()
  const { queue, log } = memoryQueue(range(3), stolen)
  const seen: string[] = []
  const held: boolean[] = []
  await drainQueue({
    queue,
    handle: async (job, ctx) => {
      seen.push(job.id)
      if (job.id === '1') {
        stolen.add('2')
        held.push(await ctx.extendLease(30))
      }
    },
    limit: 3,
    ttlSeconds: 30,
    concurrency: 1,
    warn: () => {},
  })
  assert.deepEqual(seen, ['1', '3'])
  assert.deepEqual(held, [true], 'job 1 still holds its own row')
  assert.deepEqual(log.acked, ['1', '3'])
  assert.ok(log.calls.includes('fail:2'), 'the lost row is failed, fenced out')
})

Deno.test('extendLease refuses seconds outside 1-3600, and a queue without extend', async () => {
  const { queue } = memoryQueue(range(2))
  const errors: unknown[] = []
  const noExtend = { ...queue, extend: undefined }
  for (const q of [queue, noExtend]) {
    await drainQueue({
      queue: q,
      handle: async (job, ctx) => {
        try {
          await ctx.extendLease(job.id === '1' ? 0 : 1)
        } catch (err) {
          errors.push(err)
        }
      },
      limit: 1,
      ttlSeconds: 30,
    })
  }
  assert.ok(errors[0] instanceof RangeError)
  assert.ok(errors[1] instanceof TypeError && /cannot extend leases/.test(errors[1].message))
})
