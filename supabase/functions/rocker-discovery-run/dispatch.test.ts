// rocker-discovery-run under the dispatcher: its cron command (ops.dispatch_worker) posts calls
// through pg_net and the gateway, and each call records its own result under its call_id, the
// figures the next ticks size their fan-out from.
import assert from 'node:assert/strict'
import { adminSql, eventually } from '../../../local/testing.ts'

const TOPIC = 'marketplace_discovery_queue'

Deno.test('a dispatched discovery call records the result it answers', async () => {
  const sql = adminSql()
  const userId = crypto.randomUUID()
  try {
    await sql`insert into auth.users (id, email) values (${userId}, ${`${userId}@example.test`})`
    await sql`
      insert into public.marketplace_discovery_queue (interest_id, user_id)
      select gen_random_uuid(), ${userId} from generate_series(1, 3)`
    const [{ command }] = await sql<{ command: string }[]>`
      select command from cron.job where jobname = 'rocker-discovery-run'`
    const ids = (await sql.unsafe<{ request_id: string }[]>(command)).map((r) => r.request_id)
    assert.ok(ids.length >= 1, 'a backlog gets at least one call')

    const answers = await eventually(async () => {
      const rows = await sql<{ status_code: number; content: string }[]>`
        select status_code, content from net._http_response where id in ${sql(ids)}`
      return rows.length === ids.length ? rows : null
    }, 30_000)
    const answered = { processed: 0, errors: 0 }
    for (const a of answers) {
      assert.equal(a.status_code, 200, a.content)
      const body = JSON.parse(a.content)
      answered.processed += body.processed
      answered.errors += body.errors
    }
    const [recorded] = await sql`
      select count(answered_at)::int as calls, sum(processed)::int as processed,
             sum(errors)::int as errors
        from ops.queue_dispatch_calls where request_id in ${sql(ids)}`
    assert.deepEqual(
      [recorded.calls, recorded.processed, recorded.errors],
      [ids.length, answered.processed, answered.errors],
    )
    assert.ok(recorded.processed >= 3, 'the three items were among them')
    const [items] = await sql`
      select count(*)::int as left from public.marketplace_discovery_queue
       where user_id = ${userId} and status = 'processing'`
    assert.equal(items.left, 0, 'no item is left under a lease')
  } finally {
    await sql`delete from public.marketplace_discovery_queue where user_id = ${userId}`
    await sql`delete from public.events_queue where payload ->> 'user_id' = ${userId}`
    await sql`delete from auth.users where id = ${userId}`
    await sql`delete from ops.queue_dispatch_ticks where topic = ${TOPIC}`
    await sql.end()
  }
})
