// hydrate-features against the real test database: only the service_role key, bad bodies named,
// and passes that fold new events once, however often (or however concurrently) they run.
import assert from 'node:assert/strict'
import {
  adminSql,
  runCronJob,
  signTestJwt,
  testStackEnv,
  userTestJwt,
} from '../../../local/testing.ts'
import { createDb } from '../_shared/db.ts'
import { createHydrateFeaturesApp } from './app.ts'

const env = testStackEnv()
/** A parsed JSON answer, read field by field in the assertions. */
type Json = Awaited<ReturnType<Response['json']>>

async function withApp(
  fn: (ctx: {
    call: (body?: unknown, bearer?: string | null) => Promise<{ status: number; body: Json }>
    admin: ReturnType<typeof adminSql>
  }) => Promise<void>,
) {
  const sql = createDb(env.dbUrl)
  const admin = adminSql()
  const app = createHydrateFeaturesApp({ sql, env: { JWT_SECRET: env.jwtSecret } })
  const service = await signTestJwt({ role: 'service_role' })
  const call = async (body?: unknown, bearer: string | null = service) => {
    const res = await app.request('/hydrate-features', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(bearer ? { authorization: `Bearer ${bearer}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    return { status: res.status, body: await res.json() }
  }
  try {
    await fn({ call, admin })
  } finally {
    await sql.end()
    await admin.end()
  }
}

Deno.test('only the service_role key may run it', async () => {
  await withApp(async ({ call }) => {
    assert.equal((await call({}, null)).status, 401)
    assert.equal((await call({}, env.anonKey)).status, 403)
    assert.equal((await call({}, await userTestJwt(crypto.randomUUID()))).status, 403)
  })
})

Deno.test('bad bodies are 400 naming the field', async () => {
  await withApp(async ({ call }) => {
    for (
      const [body, field] of [[{ max_events: 0 }, 'max_events'], [{ maxevents: 5 }, 'maxevents']]
    ) {
      const res = await call(body)
      assert.equal(res.status, 400)
      assert.ok(res.body.error.message.includes(field), res.body.error.message)
    }
  })
})

Deno.test('new events and rewards are folded in once, even by overlapping calls', async () => {
  await withApp(async ({ call, admin }) => {
    const candidate = `hydrate-test-${crypto.randomUUID()}`
    const userId = crypto.randomUUID()
    try {
      // Catch up on whatever other tests logged, so the next pass reads only ours.
      while ((await call({})).body.events_read > 0) { /* drain the backlog */ }
      await admin`
        insert into public.learning_events (decision_id, user_id, surface, candidate_id,
          position, policy, p_exp, score, explored, context)
        select gen_random_uuid(), ${userId}::uuid, 'feed', ${candidate}, 0, 'epsilon_greedy_v1',
               0.9, 0.5, false, '{}'::jsonb
        from generate_series(1, 3)`
      const [first, second] = await Promise.all([call({}), call({})])
      assert.equal(first.status, 200, JSON.stringify(first.body))
      assert.equal(second.status, 200, JSON.stringify(second.body))
      assert.equal(first.body.events_read + second.body.events_read, 3, 'each event read once')
      const watermark = Math.max(first.body.watermark, second.body.watermark)
      const [maxId] = await admin<{ id: number }[]>`
        select max(id)::float8 as id from public.learning_events`
      assert.equal(watermark, maxId.id, 'the watermark is the last event counted')

      const [features] = await admin<{ impressions: number; rewards: number }[]>`
        select impressions::int, rewards::int from public.candidate_features
        where candidate_id = ${candidate}`
      assert.deepEqual(features, { impressions: 3, rewards: 0 })

      // A reward that arrives after its event was counted is folded in by a later pass, once.
      await admin`update public.learning_events set reward = 1, rewarded_at = now()
                  where id = (select min(id) from public.learning_events
                              where candidate_id = ${candidate})`
      const later = await call({})
      assert.equal(later.status, 200)
      await call({})
      const [after] = await admin<{ impressions: number; rewards: number; reward_sum: number }[]>`
        select impressions::int, rewards::int, reward_sum::float8 from public.candidate_features
        where candidate_id = ${candidate}`
      assert.deepEqual(after, { impressions: 3, rewards: 1, reward_sum: 1 })
    } finally {
      await admin`delete from public.learning_events where user_id = ${userId}::uuid`
      await admin`delete from public.candidate_features where candidate_id = ${candidate}`
    }
  })
})

Deno.test('through the gateway with the service_role key', async () => {
  const res = await fetch(`${env.apiUrl}/functions/v1/hydrate-features`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${env.serviceRoleKey}` },
    body: '{}',
  })
  const body = await res.json()
  assert.equal(res.status, 200, JSON.stringify(body))
  assert.deepEqual(Object.keys(body).sort(), [
    'candidates_updated',
    'events_read',
    'users_updated',
    'watermark',
  ])
})

Deno.test('the hydrate-features cron job calls the function and gets an answer', async () => {
  const admin = adminSql()
  try {
    const answer = await runCronJob(admin, 'hydrate-features')
    assert.equal(typeof answer.events_read, 'number')
    const [job] = await admin<{ schedule: string }[]>`
      select schedule from cron.job where jobname = 'hydrate-features'`
    assert.equal(job.schedule, '*/5 * * * *')
  } finally {
    await admin.end()
  }
})
