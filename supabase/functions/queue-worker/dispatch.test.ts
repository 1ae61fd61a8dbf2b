// The dispatcher end to end: a topic's cron command posts several queue-worker calls in one
// tick (ops.dispatch_worker), pg_net sends them through the gateway, the calls drain the topic
// side by side and record their own results. Leases keep overlapping calls exact: every job is
// done once, none is lost, every call gets its share, and one failing call stops no other.
import assert from 'node:assert/strict'
import { adminSql, eventually, testStackEnv } from '../../../local/testing.ts'
import { NOOP_TOPIC } from './registry.ts'

type Sql = ReturnType<typeof adminSql>

const JOB = `queue-worker:${NOOP_TOPIC}`
const LIMIT = 50

/** Schedules the no-op topic (inactive: the test ticks it) with max_parallel 4 and `jobs` queued. */
async function arrange(sql: Sql, jobs: number) {
  await sql.begin(async (tx) => {
    await tx`select set_config('app.actor', 'test:dispatch', true),
                    set_config('app.reason', 'dispatch test', true)`
    await tx`select ops.schedule_queue_topic(${NOOP_TOPIC}::text, p_batch_limit => ${LIMIT}::int)`
    await tx`update cron.job set active = false where jobname = ${JOB}`
    await tx`select ops.set_queue_parallelism(p_topic => ${NOOP_TOPIC}::text, p_max_parallel => 4)`
    await tx`delete from ops.queue_dispatch_ticks where topic = ${NOOP_TOPIC}`
    await tx`
      insert into public.events_queue (topic, payload)
      select ${NOOP_TOPIC}, '{}' from generate_series(1, ${jobs}::int)`
  })
}

async function cleanUp(sql: Sql) {
  await sql`select ops.unschedule_queue_topic(${NOOP_TOPIC}::text)`
  await sql`delete from public.events_queue where topic = ${NOOP_TOPIC}`
  await sql`delete from ops.queue_dispatch_ticks where topic = ${NOOP_TOPIC}`
  await sql.begin(async (tx) => {
    await tx`select set_config('app.reason', 'dispatch test cleanup', true)`
    await tx`delete from ops.queue_parallelism where topic = ${NOOP_TOPIC}`
  })
}

async function command(sql: Sql): Promise<string> {
  const [job] = await sql<
    { command: string }[]
  >`select command from cron.job where jobname = ${JOB}`
  return job.command
}

/** Runs the job's command as pg_cron would; the request ids of the calls it posted. */
async function tick(sql: Sql): Promise<string[]> {
  const rows = await sql.unsafe<{ request_id: string }[]>(await command(sql))
  return rows.map((r) => r.request_id)
}

interface Answer {
  id: string
  status_code: number | null
  content: string | null
}

/** Waits for pg_net's answer to each request. */
function answers(sql: Sql, ids: string[]): Promise<Answer[]> {
  return eventually(async () => {
    const rows = await sql<Answer[]>`
      select id::text, status_code, content from net._http_response
       where id in ${sql(ids)} order by id`
    return rows.length === ids.length ? rows : null
  }, 30_000)
}

/** Ticks, waiting for each tick's calls, until a tick posts none; how many ticks posted calls. */
async function drain(sql: Sql): Promise<number> {
  for (let ticks = 0;; ticks++) {
    const ids = await tick(sql)
    if (ids.length === 0) return ticks
    for (const a of await answers(sql, ids)) assert.equal(a.status_code, 200, a.content ?? '')
  }
}

/** Every job of the topic done after exactly one lease: none ran twice, none was lost. */
async function assertAllDoneOnce(sql: Sql, jobs: number) {
  const rows = await sql`
    select status, attempts, count(*)::int as n from public.events_queue
     where topic = ${NOOP_TOPIC} group by 1, 2`
  assert.deepEqual(rows.map((r) => [r.status, r.attempts, r.n]), [['done', 1, jobs]])
}

Deno.test('one tick posts max_parallel calls that drain through the gateway, each job once', async () => {
  const sql = adminSql()
  try {
    await arrange(sql, 1000)
    // The tick and a look at pg_net's queue in one transaction: nothing is sent before commit.
    const { ids, queued } = await sql.begin(async (tx) => {
      const rows = await tx.unsafe<{ request_id: string }[]>(await command(sql))
      const ids = rows.map((r) => r.request_id)
      const queued = await tx<{ url: string; body: Record<string, unknown> }[]>`
        select url, convert_from(body, 'UTF8')::jsonb as body from net.http_request_queue
         where id in ${tx(ids)} order by id`
      return { ids, queued }
    })
    assert.equal(ids.length, 4, '1,000 jobs at 50 a call want 20 calls; max_parallel is 4')
    assert.equal(queued.length, 4, 'all four are in net.http_request_queue')
    for (const q of queued) {
      assert.ok(q.url.endsWith('/functions/v1/queue-worker'), q.url)
      assert.equal(q.body.topic, NOOP_TOPIC)
      assert.equal(q.body.limit, LIMIT)
    }
    assert.equal(new Set(queued.map((q) => q.body.call_id)).size, 4, 'each has its own call_id')

    // They run side by side; each gets a full share of the backlog and records it.
    const first = await answers(sql, ids)
    assert.deepEqual(
      first.map((a) => [a.status_code, JSON.parse(a.content!).processed]),
      [[200, LIMIT], [200, LIMIT], [200, LIMIT], [200, LIMIT]],
    )
    const recorded = await sql`
      select processed, errors from ops.queue_dispatch_calls
       where request_id in ${sql(ids)} and answered_at is not null`
    assert.deepEqual(recorded.map((r) => [r.processed, r.errors]), [
      [LIMIT, 0],
      [LIMIT, 0],
      [LIMIT, 0],
      [LIMIT, 0],
    ])

    // The rest of the backlog: four more ticks of four calls, then an empty tick posts none.
    assert.equal(await drain(sql), 4)
    await assertAllDoneOnce(sql, 1000)
    const ticks = await sql`
      select parallelism, calls_issued, calls_answered, processed::int, errors::int,
             backlog_before::int, backlog_after::int
        from public.vw_queue_dispatches where topic = ${NOOP_TOPIC} order by tick_at`
    assert.deepEqual(ticks.map((t) => Object.values(t)), [
      [4, 4, 4, 200, 0, 1000, 800],
      [4, 4, 4, 200, 0, 800, 600],
      [4, 4, 4, 200, 0, 600, 400],
      [4, 4, 4, 200, 0, 400, 200],
      [4, 4, 4, 200, 0, 200, 0],
      [0, 0, 0, 0, 0, 0, null],
    ])
  } finally {
    await cleanUp(sql)
    await sql.end()
  }
})

Deno.test('a failing call stops none of the others, and vw_cron_health counts it', async () => {
  const sql = adminSql()
  try {
    await arrange(sql, 1000)
    const ids = await sql.begin(async (tx) => {
      const rows = await tx.unsafe<{ request_id: string }[]>(await command(sql))
      const ids = rows.map((r) => r.request_id)
      // One of the four goes out with a token the gateway refuses.
      await tx`
        update net.http_request_queue
           set headers = headers || '{"Authorization": "Bearer not-a-token"}'::jsonb
         where id = ${ids[0]}`
      return ids
    })
    const first = await answers(sql, ids)
    assert.deepEqual(first.map((a) => a.status_code), [401, 200, 200, 200])
    // The refused call is over (pg_net has its answer) but recorded no result: answered, and
    // one error beside the jobs' own.
    const [view] = await sql`
      select calls_issued, calls_answered, processed::int, errors::int
        from public.vw_queue_dispatches where topic = ${NOOP_TOPIC}`
    assert.deepEqual(Object.values(view), [4, 4, 3 * LIMIT, 1])
    const [health] = await sql`
      select failures_1h::int from public.vw_cron_health where jobname = ${JOB}`
    assert.equal(health.failures_1h, 1, 'the refused call is a failure of the job')

    // The refused call has its answer, so it holds no room: the next ticks drain the rest.
    assert.ok(await drain(sql) >= 1)
    await assertAllDoneOnce(sql, 1000)
  } finally {
    await cleanUp(sql)
    await sql.end()
  }
})

Deno.test("a call cannot record its result under another topic's call_id", async () => {
  const sql = adminSql()
  const env = testStackEnv()
  const callId = crypto.randomUUID()
  try {
    await arrange(sql, 10)
    // A running call of the discovery queue, as a dispatcher tick leaves it.
    await sql`
      with tick as (
        insert into ops.queue_dispatch_ticks (topic, jobname, parallelism, calls_issued,
                                              backlog_before)
        values ('marketplace_discovery_queue', 'test:forged', 1, 1, 1) returning id)
      insert into ops.queue_dispatch_calls (id, tick_id, topic, request_id, expires_at)
      select ${callId}::uuid, id, 'marketplace_discovery_queue', -1, now() + interval '1 minute'
        from tick`
    // A service_role caller drains its own topic but names that call.
    const res = await fetch(`${env.apiUrl}/functions/v1/queue-worker`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Authorization: `Bearer ${env.serviceRoleKey}`,
      },
      body: JSON.stringify({ topic: NOOP_TOPIC, limit: LIMIT, call_id: callId }),
    })
    assert.equal(res.status, 200)
    assert.equal((await res.json()).processed, 10)
    const [call] = await sql`
      select answered_at, processed from ops.queue_dispatch_calls where id = ${callId}::uuid`
    assert.deepEqual([call.answered_at, call.processed], [null, null], 'the call is untouched')
  } finally {
    await sql`delete from ops.queue_dispatch_ticks where jobname = 'test:forged'`
    await cleanUp(sql)
    await sql.end()
  }
})
