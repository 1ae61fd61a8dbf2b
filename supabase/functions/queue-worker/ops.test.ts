// What operators and pg_cron run, against the real database: the daily maintenance job's cron
// command (executed verbatim, at top level, as pg_cron does), the cron schedule matching the
// production registry, and the runbook's SQL in docs/queue.md through psql, verbatim.
import assert from 'node:assert/strict'
import { adminSql, psql } from '../../../local/testing.ts'
import { NOOP_TOPIC, productionRegistry } from './registry.ts'

/** A user for discovery rows (user_id references auth.users); removed with its rows. */
async function createUser(sql: ReturnType<typeof adminSql>): Promise<string> {
  const id = crypto.randomUUID()
  await sql`insert into auth.users (id, email, created_at) values (${id}, ${`${id}@test.local`}, now())`
  return id
}

async function dropUser(sql: ReturnType<typeof adminSql>, id: string) {
  await sql`delete from public.events_queue where payload ->> 'user_id' = ${id}`
  await sql`delete from auth.users where id = ${id}`
}

Deno.test("the 'queue-maintenance' cron command requeues expired leases and purges old done rows in batches", async () => {
  const sql = adminSql()
  const topic = `test.maintenance.${crypto.randomUUID()}`
  try {
    const [{ command }] = await sql<{ command: string }[]>`
      select command from cron.job where jobname = 'queue-maintenance'`
    // 12,000 done rows past the 7-day retention (more than two of its 5,000-row batches), 3
    // recent done rows, and one expired lease.
    await sql`
      insert into public.events_queue (topic, payload, status, attempts, updated_at)
      select ${topic}, jsonb_build_object('n', g), 'done', 1,
             now() - case when g <= 12000 then interval '8 days' else interval '1 day' end
        from generate_series(1, 12003) g`
    await sql`
      insert into public.events_queue (topic, payload, status, attempts, lease_token,
                                       lease_expires_at)
      values (${topic}, '{"expired": true}', 'processing', 1, gen_random_uuid(),
              now() - interval '1 minute')`

    // Verbatim, as its own top-level statement (a procedure that commits cannot run inside a
    // transaction block): postgres.js's unsafe() with no parameters is one simple query.
    await sql.unsafe(command)

    const rows = await sql<{ status: string; old: boolean; leased: boolean; n: number }[]>`
      select status, updated_at < now() - interval '7 days' as old,
             lease_token is not null or lease_expires_at is not null as leased, count(*)::int as n
        from public.events_queue where topic = ${topic}
       group by 1, 2, 3 order by 1, 2`
    assert.deepEqual([...rows], [
      { status: 'done', old: false, leased: false, n: 3 },
      { status: 'queued', old: false, leased: false, n: 1 },
    ])
  } finally {
    await sql`delete from public.events_queue where topic = ${topic}`
    await sql.end()
  }
})

Deno.test('every production topic but ops.noop has a queue-worker:<topic> cron job, and vice versa', async () => {
  const sql = adminSql()
  try {
    const jobs = await sql<{ jobname: string; command: string }[]>`
      select jobname, command from cron.job where jobname like 'queue-worker:%' order by 1`
    const scheduled = jobs.map((j) => j.jobname.slice('queue-worker:'.length)).sort()
    const registered = [...productionRegistry().keys()].filter((t) => t !== NOOP_TOPIC).sort()
    assert.deepEqual(scheduled, registered)
    for (const { jobname, command } of jobs) {
      const topic = jobname.slice('queue-worker:'.length)
      assert.ok(command.includes('/functions/v1/queue-worker'), jobname)
      assert.ok(command.includes(JSON.stringify(topic)), `${jobname}'s body names its topic`)
    }
  } finally {
    await sql.end()
  }
})

/**
 * The statements of docs/queue.md's runbook that an operator pastes as they are: the health
 * views, the dead-letter list, freeing expired discovery leases, dropping discovery dead
 * letters. Kept here too (the doc is checked to hold each) so the run leaves out the doc's
 * requeue_expired_leases() line, which would dead-letter the final-attempt row asserted below.
 */
const RUNBOOK_STATEMENTS = `SELECT * FROM public.vw_discovery_queue_health;
SELECT p95_age_sec FROM public.vw_discovery_queue_health WHERE status = 'queued';
SELECT * FROM public.vw_dead_letter_queue LIMIT 5;
SELECT * FROM public.vw_events_queue_health;
SELECT * FROM public.marketplace_discovery_queue
WHERE status = 'processing' AND lease_expires_at < now();
UPDATE public.marketplace_discovery_queue
SET status = 'queued', lease_token = NULL, lease_expires_at = NULL
WHERE status = 'processing' AND lease_expires_at < now();
DELETE FROM public.marketplace_discovery_queue WHERE status = 'error';
`

Deno.test("docs/queue.md's runbook SQL runs verbatim through psql and frees expired leases and dead letters", async () => {
  const sql = adminSql()
  const userId = await createUser(sql)
  try {
    // The doc still holds each statement, character for character.
    const doc = await Deno.readTextFile(new URL('../../../docs/queue.md', import.meta.url))
    for (const statement of RUNBOOK_STATEMENTS.split(';\n').filter((s) => s.trim())) {
      assert.ok(doc.includes(statement), `docs/queue.md has: ${statement}`)
    }
    const insert = async (status: string, attempts: number, lease: string | null) => {
      const [{ id }] = await sql<{ id: string }[]>`
        insert into public.marketplace_discovery_queue (interest_id, user_id, status, attempts,
                                                        lease_token, lease_expires_at,
                                                        last_error, updated_at)
        values (gen_random_uuid(), ${userId}, ${status}, ${attempts},
                case when ${lease}::interval is not null then gen_random_uuid() end,
                now() + ${lease}::interval,
                case when ${status} = 'error' then 'gave up' end,
                now() - interval '1 hour')
        returning id`
      return id
    }
    const ids = {
      expired: await insert('processing', 5, '-1 minute'),
      live: await insert('processing', 2, '5 minutes'),
      dead: await insert('error', 5, null),
    }
    const id = (kind: keyof typeof ids) => ids[kind]

    const out = await psql(RUNBOOK_STATEMENTS)
    assert.match(out, /status\s*\|\s*items\s*\|\s*p95_age_sec\s*\|\s*oldest_age_sec/)
    assert.match(out, /queue\s*\|\s*id\s*\|\s*topic\s*\|\s*attempts\s*\|\s*last_error/)
    assert.match(out, /topic\s*\|\s*status\s*\|\s*items/)
    assert.match(out, /\nUPDATE \d+\n/)
    assert.match(out, /\nDELETE \d+\n/)
    assert.ok(out.includes(id('expired')), 'the expired lease is listed')

    const after = await sql<
      {
        id: string
        status: string
        attempts: number
        leased: boolean
        updated_recently: boolean
      }[]
    >`
      select id, status, attempts,
             lease_token is not null or lease_expires_at is not null as leased,
             updated_at > now() - interval '1 minute' as updated_recently
        from public.marketplace_discovery_queue where user_id = ${userId}`
    const byId = new Map(after.map((r) => [r.id, r]))
    // The expired lease is queued and unleased; attempts and updated_at are left as they were
    // (docs/queue.md says so: on its final attempt, it dead-letters at its next lease).
    assert.deepEqual(
      { ...byId.get(id('expired')), id: undefined },
      { id: undefined, status: 'queued', attempts: 5, leased: false, updated_recently: false },
    )
    assert.equal(byId.get(id('live'))?.status, 'processing', 'a live lease is left alone')
    assert.equal(byId.has(id('dead')), false, 'the dead letter is deleted')
  } finally {
    await sql`delete from public.marketplace_discovery_queue where user_id = ${userId}`
    await dropUser(sql, userId)
    await sql.end()
  }
})
