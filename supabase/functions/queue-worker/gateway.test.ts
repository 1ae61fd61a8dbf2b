// queue-worker as deployed: through the gateway over HTTP with the stack's real keys, and from
// a pg_cron job's command through pg_net, as production runs it.
import assert from 'node:assert/strict'
import { adminSql, eventually, testStackEnv } from '../../../local/testing.ts'
import { NOOP_TOPIC } from './registry.ts'

const env = testStackEnv()
const url = `${env.apiUrl}/functions/v1/queue-worker`

function post(body: unknown, bearer?: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (bearer) headers.authorization = `Bearer ${bearer}`
  return fetch(url, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

Deno.test('the gateway answers 401 without a token and the function 403 to the anon key', async () => {
  const none = await post({ topic: NOOP_TOPIC })
  assert.equal(none.status, 401)
  await none.body?.cancel()
  const anon = await post({ topic: NOOP_TOPIC }, env.anonKey)
  assert.equal(anon.status, 403)
  assert.equal((await anon.json()).error.code, 'forbidden')
})

Deno.test('bad bodies with the service key are a 400 naming the field', async () => {
  for (
    const [body, field] of [
      [{}, 'topic'],
      [{ topic: 'not.registered' }, 'topic'],
      [{ topic: NOOP_TOPIC, limit: 0 }, 'limit'],
      [{ topic: NOOP_TOPIC, ttl: 1 }, 'ttl'],
      ['{"topic":', 'JSON'],
    ] as const
  ) {
    const res = await post(body, env.serviceRoleKey)
    const json = await res.json()
    assert.equal(res.status, 400, JSON.stringify(json))
    assert.ok(json.error.message.includes(field), `${JSON.stringify(body)}: ${json.error.message}`)
  }
})

Deno.test('the service key drains the topic and answers the counts', async () => {
  const sql = adminSql()
  try {
    await sql`
      insert into public.events_queue (topic, payload)
      select ${NOOP_TOPIC}, '{}' from generate_series(1, 25)`
    const res = await post({ topic: NOOP_TOPIC, limit: 20, ttl: 30 }, env.serviceRoleKey)
    const body = await res.json()
    assert.equal(res.status, 200, JSON.stringify(body))
    assert.equal(body.processed, 20, 'stops at the limit')
    assert.equal(body.errors, 0)
    assert.equal(body.dead_lettered, 0)
    assert.equal(typeof body.duration_ms, 'number')
    const [{ queued }] = await sql`
      select count(*)::int as queued from public.events_queue
       where topic = ${NOOP_TOPIC} and status = 'queued'`
    assert.equal(queued, 5)
  } finally {
    await sql`delete from public.events_queue where topic = ${NOOP_TOPIC}`
    await sql.end()
  }
})

Deno.test("a scheduled topic's cron command reaches the function through pg_net", async () => {
  const sql = adminSql()
  const job = `queue-worker:${NOOP_TOPIC}`
  try {
    await sql`
      insert into public.events_queue (topic, payload)
      select ${NOOP_TOPIC}, '{}' from generate_series(1, 3)`
    // Scheduled and deactivated in one transaction, so the scheduler itself never fires it.
    const [{ command }] = await sql.begin(async (tx) => {
      await tx`select ops.schedule_queue_topic(${NOOP_TOPIC}::text, p_batch_limit => 10)`
      await tx`update cron.job set active = false where jobname = ${job}`
      return await tx<{ command: string }[]>`select command from cron.job where jobname = ${job}`
    })
    const [{ request_id }] = await sql.unsafe(command)
    const response = await eventually(
      async () =>
        (await sql<{ status_code: number; content: string }[]>`
        select status_code, content from net._http_response where id = ${request_id}`)[0],
      30_000,
    )
    assert.equal(response.status_code, 200, response.content)
    const body = JSON.parse(response.content)
    assert.equal(body.processed, 3)
    const [{ done }] = await sql`
      select count(*)::int as done from public.events_queue
       where topic = ${NOOP_TOPIC} and status = 'done'`
    assert.equal(done, 3)
  } finally {
    await sql`select ops.unschedule_queue_topic(${NOOP_TOPIC}::text)`
    await sql`delete from public.events_queue where topic = ${NOOP_TOPIC}`
    await sql.end()
  }
})
