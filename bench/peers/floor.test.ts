// The minimal floor is only a floor if it does a queue's real work: every runnable job claimed
// once and marked done under its own batch's token, and nothing else touched.
import assert from 'node:assert/strict'
import { pgBinDir } from '../../local/paths.ts'
import { adminSql, testStackEnv } from '../../local/testing.ts'
import { type BenchContext, pgbench } from '../harness.ts'
import { MINIMAL_FLOOR_SCRIPT } from './floor.ts'

Deno.test('the minimal floor finishes each runnable job once and leaves other rows alone', async () => {
  const env = testStackEnv()
  const sql = adminSql(env)
  const topic = `test.floor.${crypto.randomUUID()}`
  try {
    const [{ major }] = await sql<{ major: number }[]>`
      select current_setting('server_version_num')::int / 10000 as major`
    const ctx: BenchContext = {
      ...env,
      dbPort: Number(new URL(env.dbUrl).port),
      pgBinDir: pgBinDir(major),
      sql,
      log: () => {},
    }
    await sql`
      insert into public.events_queue (topic, payload)
      select ${topic}, '{}' from generate_series(1, 250)`
    // Another worker's live lease, and a job not runnable yet: the floor must skip both.
    const [{ id: leased }] = await sql<{ id: string }[]>`
      insert into public.events_queue (topic, status, attempts, lease_token, lease_expires_at)
      values (${topic}, 'processing', 1, gen_random_uuid(), now() + interval '1 hour')
      returning id`
    const [{ id: later }] = await sql<{ id: string }[]>`
      insert into public.events_queue (topic, run_at) values (${topic}, now() + interval '1 hour')
      returning id`

    // Batches of 100: 100, 100, 50, then an empty claim whose mark-done must change nothing.
    await pgbench(ctx, MINIMAL_FLOOR_SCRIPT, {
      clients: 1,
      transactionsPerClient: 4,
      protocol: 'prepared',
      vars: { topic, batch: '100' },
    })

    const [done] = await sql<{ n: number; once: number; tokens: number }[]>`
      select count(*)::int as n, (count(*) filter (where attempts = 1))::int as once,
             count(distinct lease_token)::int as tokens
        from public.events_queue where topic = ${topic} and status = 'done'`
    assert.deepEqual(done, { n: 250, once: 250, tokens: 3 })
    const others = await sql<{ id: string; status: string; attempts: number }[]>`
      select id::text, status, attempts from public.events_queue
       where topic = ${topic} and status <> 'done' order by id`
    assert.deepEqual([...others], [
      { id: String(leased), status: 'processing', attempts: 1 },
      { id: String(later), status: 'queued', attempts: 0 },
    ])
  } finally {
    await sql`delete from public.events_queue where topic = ${topic}`
    await sql.end()
  }
})
