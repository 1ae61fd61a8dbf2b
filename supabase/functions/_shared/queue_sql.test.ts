// The queue features beyond lease/ack/fail against the real database: enqueueEvents (order and
// dedupe, within a batch too), lease extension through drainQueue (a job that outlives its first
// lease; a job whose lease is stolen), and `call ops.run_queue_maintenance()` pruning by
// retention. The SQL functions' edge cases are in supabase/tests/queue.
import assert from 'node:assert/strict'
import { createDb } from './db.ts'
import { drainQueue, LeaseLostError } from './drain.ts'
import { sleep } from './drain_testing.ts'
import { enqueueEvents, eventsQueue } from './lease.ts'
import { adminSql, testStackEnv } from '../../../local/testing.ts'

const env = testStackEnv()

Deno.test('enqueueEvents returns ids in order and dedupes like enqueue_event, within a batch too', async () => {
  const sql = adminSql()
  const topic = `test.enqueue-events.${crypto.randomUUID()}`
  try {
    const [held] = await sql<{ id: string }[]>`
      select public.enqueue_event(${topic}, '{"n": 0}', p_dedupe_key => 'held')::text as id`
    const runAt = new Date(Date.now() + 3_600_000)
    const ids = await enqueueEvents(sql, topic, [
      { payload: { n: 1 } },
      { payload: { n: 2 }, dedupeKey: 'twice' },
      { payload: { n: 3 }, dedupeKey: 'held' },
      { payload: { n: 4 }, dedupeKey: 'twice' },
      { payload: { n: 5 }, runAt },
    ], { priority: 2, maxAttempts: 3 })
    assert.equal(ids.length, 5)
    assert.ok(ids.every((id) => typeof id === 'string'), 'ids are strings, as bigint ids are')
    assert.equal(ids[1], ids[3], 'a key repeated in the batch gets one job')
    assert.equal(ids[2], held.id, 'a key an active job holds gets that job')
    const rows = await sql<{ id: string; n: number; late: boolean; priority: number }[]>`
      select id::text, (payload ->> 'n')::int as n, run_at > now() as late, priority
        from public.events_queue where topic = ${topic} order by id`
    const byId = new Map(rows.map((r) => [r.id, r]))
    assert.deepEqual(ids.map((id) => byId.get(id)?.n), [1, 2, 0, 2, 5], 'ids in input order')
    assert.equal(rows.length, 4, 'the batch added three jobs')
    assert.equal(byId.get(ids[4])?.late, true, 'runAt is kept per item')
    assert.equal(byId.get(ids[0])?.priority, 2)
    assert.deepEqual(await enqueueEvents(sql, topic, []), [], 'nothing to add, no round trip')
  } finally {
    await sql`delete from public.events_queue where topic = ${topic}`
    await sql.end()
  }
})

Deno.test('a job that extends its lease outlives its first lease, unclaimed, and is acked', async () => {
  const admin = adminSql()
  const worker = createDb(env.dbUrl, { max: 2 })
  const other = createDb(env.dbUrl, { max: 1 })
  const topic = `test.extend.${crypto.randomUUID()}`
  try {
    await enqueueEvents(admin, topic, [{ payload: {} }])
    let claimedMeanwhile = -1
    const result = await drainQueue({
      queue: eventsQueue(worker, topic),
      handle: async (_job, ctx) => {
        assert.equal(await ctx.extendLease(5), true)
        await sleep(1_300) // past the first lease (1 s)
        const stolen = await eventsQueue(other, topic).lease({ limit: 10, ttlSeconds: 30 })
        claimedMeanwhile = stolen.rows.length
      },
      limit: 1,
      ttlSeconds: 1,
      handlerTimeoutMs: 10_000,
      budgetMs: 10_000,
    })
    assert.equal(claimedMeanwhile, 0, 'no other worker could claim the extended row')
    assert.equal(result.processed, 1)
    const [job] = await admin<{ status: string; attempts: number }[]>`
      select status, attempts from public.events_queue where topic = ${topic}`
    assert.deepEqual(job, { status: 'done', attempts: 1 }, 'acked on its only attempt')
  } finally {
    await admin`delete from public.events_queue where topic = ${topic}`
    await Promise.all([admin.end(), worker.end(), other.end()])
  }
})

Deno.test('a job whose lease was stolen sees its signal fire and its ack fenced', async () => {
  const admin = adminSql()
  const worker = createDb(env.dbUrl, { max: 2 })
  const thief = createDb(env.dbUrl, { max: 1 })
  const topic = `test.stolen.${crypto.randomUUID()}`
  const warnings: string[] = []
  try {
    await enqueueEvents(admin, topic, [{ payload: {} }])
    let token: string | null = null
    let reason: unknown
    const result = await drainQueue({
      queue: eventsQueue(worker, topic),
      handle: async (_job, ctx) => {
        // The lease runs out (a stalled isolate, say) and another worker claims the row.
        await admin`update public.events_queue set lease_expires_at = now() - interval '1 second'
                     where topic = ${topic}`
        token = (await eventsQueue(thief, topic).lease({ limit: 1, ttlSeconds: 60 })).token
        assert.equal(await ctx.extendLease(30), false)
        reason = ctx.signal.reason
      },
      limit: 1,
      ttlSeconds: 30,
      warn: (line) => warnings.push(line),
    })
    assert.ok(reason instanceof LeaseLostError, `the signal fired with ${reason}`)
    assert.equal(result.processed, 0, 'nothing of the stolen job was acked or failed')
    assert.match(warnings.join('\n'), /fenced out/)
    const [job] = await admin<{ status: string; lease_token: string; attempts: number }[]>`
      select status, lease_token::text, attempts from public.events_queue where topic = ${topic}`
    assert.deepEqual(
      job,
      { status: 'processing', lease_token: token, attempts: 2 },
      "the row is the thief's, untouched",
    )
  } finally {
    await admin`delete from public.events_queue where topic = ${topic}`
    await Promise.all([admin.end(), worker.end(), thief.end()])
  }
})

Deno.test('call ops.run_queue_maintenance() prunes done rows and dead letters by retention', async () => {
  const sql = adminSql()
  const topic = `test.retention.${crypto.randomUUID()}`
  try {
    await sql`
      insert into public.events_queue (topic, payload, status, updated_at)
      select ${topic}, jsonb_build_object('k', v.k), v.status, now() - v.age
        from (values ('done 8d', 'done', interval '8 days'), ('done 6d', 'done', interval '6 days'),
                     ('error 31d', 'error', interval '31 days'),
                     ('error 29d', 'error', interval '29 days')) as v(k, status, age)`
    const [before] = await sql<{ id: string }[]>`
      select coalesce(max(id), 0)::text as id from public.ai_action_ledger`
    await sql`call ops.run_queue_maintenance()`
    const left = await sql<{ k: string }[]>`
      select payload ->> 'k' as k from public.events_queue where topic = ${topic} order by 1`
    assert.deepEqual(
      left.map((r) => r.k),
      ['done 6d', 'error 29d'],
      'done rows past 7 days and dead letters past 30 are gone, by the default retention',
    )
    const ledger = await sql<{ after: { done_pruned: number; dead_letters_pruned: number } }[]>`
      select after from public.ai_action_ledger
       where action = 'queue.maintenance' and id > ${before.id}::bigint`
    assert.equal(ledger.length, 1, 'the run left one ledger row')
    assert.ok(ledger[0].after.done_pruned >= 1 && ledger[0].after.dead_letters_pruned >= 1)
  } finally {
    await sql`delete from public.events_queue where topic = ${topic}`
    await sql.end()
  }
})
