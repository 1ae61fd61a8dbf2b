// The queue against the real database with several workers on separate connections: every
// job handled and acked exactly once, a vanished worker's jobs re-leased after its TTL with its
// late ack and fail fenced out, and a poison job dead-lettered after max_attempts.
import assert from 'node:assert/strict'
import { createDb, type Sql } from '../_shared/db.ts'
import { drainQueue } from '../_shared/drain.ts'
import { eventsQueue } from '../_shared/lease.ts'
import { adminSql, testStackEnv } from '../../../local/testing.ts'

const env = testStackEnv()

/** `n` workers, each on its own client (and so its own connection). */
function workers(n: number): Sql[] {
  return Array.from({ length: n }, () => createDb(env.dbUrl, { max: 1 }))
}

async function endAll(sqls: Sql[]) {
  await Promise.all(sqls.map((s) => s.end({ timeout: 0 })))
}

Deno.test('10,000 jobs over 4 concurrent workers are each handled and acked exactly once', async () => {
  const admin = adminSql()
  const pool = workers(4)
  const topic = `test.exactly-once.${crypto.randomUUID()}`
  const JOBS = 10_000
  try {
    await admin`
      insert into public.events_queue (topic, payload)
      select ${topic}, jsonb_build_object('n', g) from generate_series(1, ${JOBS}::int) g`
    const handled = new Map<string, number>()
    const results = await Promise.all(pool.map((sql, w) =>
      drainQueue({
        queue: eventsQueue(sql, topic),
        handle: (job) => {
          handled.set(job.id, (handled.get(job.id) ?? 0) + 1)
          // Yield now and then so the workers' leases genuinely interleave.
          return Number(job.id) % 7 === 0 ? new Promise((r) => setTimeout(r, 0)) : Promise.resolve()
        },
        limit: JOBS,
        ttlSeconds: 60,
        batchSize: 50,
        concurrency: 8,
        worker: `w${w}`,
      })
    ))
    assert.equal(handled.size, JOBS, 'every job was handled')
    assert.deepEqual([...new Set(handled.values())], [1], 'no job was handled twice')
    assert.equal(results.reduce((sum, r) => sum + r.processed, 0), JOBS, 'acks add up')
    assert.equal(results.reduce((sum, r) => sum + r.errors, 0), 0)
    assert.ok(results.every((r) => r.processed > 0), 'every worker took a share')
    const [counts] = await admin<{ done: number; other: number; attempts: number }[]>`
      select count(*) filter (where status = 'done')::int as done,
             count(*) filter (where status <> 'done')::int as other,
             max(attempts)::int as attempts
        from public.events_queue where topic = ${topic}`
    assert.deepEqual(counts, { done: JOBS, other: 0, attempts: 1 }, 'none lost, none re-leased')
  } finally {
    await admin`delete from public.events_queue where topic = ${topic}`
    await endAll(pool)
    await admin.end()
  }
})

Deno.test("a vanished worker's jobs are re-leased after its TTL and its late ack changes nothing", async () => {
  const admin = adminSql()
  const [lost, survivor] = workers(2)
  const topic = `test.vanished.${crypto.randomUUID()}`
  try {
    await admin`
      insert into public.events_queue (topic, payload)
      select ${topic}, jsonb_build_object('n', g) from generate_series(1, 20) g`
    // The lost worker leases everything for 1 s, then never acks (its isolate was killed).
    const stale = await eventsQueue(lost, topic).lease({ limit: 20, ttlSeconds: 1, worker: 'lost' })
    assert.equal(stale.rows.length, 20)

    const handled: string[] = []
    const drain = () =>
      drainQueue({
        queue: eventsQueue(survivor, topic),
        handle: (job) => Promise.resolve(void handled.push(job.id)),
        limit: 100,
        ttlSeconds: 30,
        worker: 'survivor',
      })
    assert.equal((await drain()).processed, 0, 'while the lease is live nothing is claimable')
    await new Promise((r) => setTimeout(r, 1200))
    const result = await drain()
    assert.equal(result.processed, 20, 'after the TTL another worker re-leases and acks them')
    assert.deepEqual(handled.sort(), stale.rows.map((r) => r.id).sort())

    const late = eventsQueue(lost, topic)
    const ids = stale.rows.map((r) => r.id)
    assert.equal(await late.ack(ids, stale.token!), 0, 'the late ack changes nothing')
    assert.equal(await late.fail(ids, stale.token!, 'late'), 0, 'the late fail changes nothing')
    const rows = await admin<{ status: string; attempts: number; leased_by: string }[]>`
      select status, attempts, leased_by, last_error
        from public.events_queue where topic = ${topic}`
    assert.ok(
      rows.every((r) => r.status === 'done' && r.attempts === 2 && r.leased_by === 'survivor'),
      JSON.stringify(rows[0]),
    )
  } finally {
    await admin`delete from public.events_queue where topic = ${topic}`
    await endAll([lost, survivor])
    await admin.end()
  }
})

Deno.test('a poison job dead-letters with its error after max_attempts', async () => {
  const admin = adminSql()
  const [sql] = workers(1)
  const topic = `test.poison.${crypto.randomUUID()}`
  try {
    await admin`
      insert into public.events_queue (topic, payload, max_attempts)
      values (${topic}, '{"poison": true}', 3), (${topic}, '{"poison": false}', 3)`
    const rounds = []
    for (let round = 1; round <= 4; round++) {
      rounds.push(
        await drainQueue({
          queue: eventsQueue<{ poison: boolean }>(sql, topic),
          handle: (job) =>
            job.payload.poison
              ? Promise.reject(new Error(`poisoned payload, attempt ${job.attempts}`))
              : Promise.resolve(),
          limit: 10,
          ttlSeconds: 30,
        }),
      )
      // Skip the backoff instead of sleeping through it.
      await admin`
        update public.events_queue set run_at = now()
         where topic = ${topic} and status = 'queued'`
    }
    assert.deepEqual(
      rounds.map((r) => [r.processed, r.errors, r.dead_lettered]),
      [[2, 1, 0], [1, 1, 0], [1, 1, 1], [0, 0, 0]],
    )
    const [poison] = await admin<{ status: string; attempts: number; last_error: string }[]>`
      select status, attempts, last_error from public.events_queue
       where topic = ${topic} and payload ->> 'poison' = 'true'`
    assert.equal(poison.status, 'error')
    assert.equal(poison.attempts, 3)
    assert.match(poison.last_error, /poisoned payload, attempt 3/)
    const [dlq] = await admin`
      select queue, topic, attempts, payload from public.vw_dead_letter_queue
       where topic = ${topic}`
    assert.deepEqual(dlq, {
      queue: 'events_queue',
      topic,
      attempts: 3,
      payload: { poison: true },
    })
  } finally {
    await admin`delete from public.events_queue where topic = ${topic}`
    await endAll([sql])
    await admin.end()
  }
})

Deno.test('out of time, a worker releases the rows it never started, their attempt given back', async () => {
  const admin = adminSql()
  const [sql] = workers(1)
  const topic = `test.release.${crypto.randomUUID()}`
  try {
    await admin`
      insert into public.events_queue (topic, payload)
      select ${topic}, jsonb_build_object('n', g) from generate_series(1, 40) g`
    let started = 0
    // 40 jobs x 50 ms, 2 at a time (1 s of work) with a 300 ms budget and a 1 s lease.
    const result = await drainQueue({
      queue: eventsQueue(sql, topic),
      handle: async () => {
        started++
        await new Promise((r) => setTimeout(r, 50))
      },
      limit: 40,
      ttlSeconds: 1,
      batchSize: 40,
      concurrency: 2,
      budgetMs: 300,
    })
    // All 40 jobs would take 1 s; stopping well before that is the budget at work (the bound is
    // loose: the machine may be busy).
    assert.ok(result.duration_ms < 900, `the run took ${result.duration_ms} ms`)
    assert.ok(started > 0 && started < 40, `${started} started`)
    assert.equal(result.processed, started)
    // Started jobs are done, or (started just before the end and cut off there) failed with a
    // timeout; the rest are queued again, unleased, with no attempt used.
    const rows = await admin<
      { status: string; attempts: number; leased: boolean; timed_out: boolean; n: number }[]
    >`
      select status, attempts,
             -- ack keeps the token (for forensics) and clears the expiry
             lease_expires_at is not null or (status <> 'done' and lease_token is not null) as leased,
             coalesce(last_error like '%timed out%', false) as timed_out, count(*)::int as n
        from public.events_queue where topic = ${topic}
       group by 1, 2, 3, 4 order by 1, 2`
    const expected = [
      { status: 'done', attempts: 1, leased: false, timed_out: false, n: started - result.errors },
      { status: 'queued', attempts: 0, leased: false, timed_out: false, n: 40 - started },
      { status: 'queued', attempts: 1, leased: false, timed_out: true, n: result.errors },
    ].filter((r) => r.n > 0)
    assert.deepEqual([...rows], expected)
  } finally {
    await admin`delete from public.events_queue where topic = ${topic}`
    await endAll([sql])
    await admin.end()
  }
})
