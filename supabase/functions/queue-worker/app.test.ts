// The handler through app.request: service_role only, body validation naming the field, and
// (against the live test database) a run that acks successes, fails errors and reports counts.
import assert from 'node:assert/strict'
import { SignJWT } from 'jose'
import { createDb } from '../_shared/db.ts'
import { parseEnv } from '../_shared/env.ts'
import { createQueueWorkerApp } from './app.ts'
import { parseQueueWorkerConfig } from './config.ts'
import { createRegistry, NOOP_TOPIC, productionRegistry } from './registry.ts'

const SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long'
const DEAD_DB_URL = 'postgres://postgres:postgres@127.0.0.1:1/postgres'
const LIVE_DB_URL = Deno.env.get('SUPABASE_DB_URL')

const env = parseEnv({
  SUPABASE_URL: 'http://127.0.0.1:1',
  SUPABASE_DB_URL: LIVE_DB_URL ?? DEAD_DB_URL,
  SUPABASE_ANON_KEY: 'anon',
  SUPABASE_SERVICE_ROLE_KEY: 'service',
  JWT_SECRET: SECRET,
})

function token(role: string) {
  return new SignJWT({ role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(SECRET))
}

function post(
  app: { request: (path: string, init: RequestInit) => Response | Promise<Response> },
  body: string | undefined,
  bearer?: string,
) {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (bearer) headers.authorization = `Bearer ${bearer}`
  return app.request('/queue-worker', { method: 'POST', headers, body })
}

Deno.test('callers without the service_role key are refused before any work', async () => {
  const sql = createDb(DEAD_DB_URL)
  try {
    const app = createQueueWorkerApp({ sql, env, registry: productionRegistry() })
    const body = JSON.stringify({ topic: NOOP_TOPIC })
    const none = await post(app, body)
    assert.equal(none.status, 401)
    assert.equal((await none.json()).error.code, 'unauthorized')
    for (const role of ['anon', 'authenticated']) {
      const res = await post(app, body, await token(role))
      assert.equal(res.status, 403, role)
      assert.equal((await res.json()).error.code, 'forbidden')
    }
  } finally {
    await sql.end({ timeout: 0 })
  }
})

Deno.test('bad bodies are a 400 naming the field', async () => {
  const sql = createDb(DEAD_DB_URL)
  try {
    const app = createQueueWorkerApp({ sql, env, registry: productionRegistry() })
    const service = await token('service_role')
    const cases: [string | undefined, RegExp][] = [
      [undefined, /^body: must be a JSON object/],
      ['[]', /^body: must be a JSON object/],
      ['{}', /^body\.topic|^topic: required/],
      ['{"topic": ""}', /^topic: required/],
      ['{"topic": 7}', /^topic: required/],
      ['{"topic": "no.such.topic"}', /^topic: unregistered topic "no\.such\.topic"/],
      ['{"topic": "ops.noop", "limit": 0}', /^limit: must be between 1 and 1000/],
      ['{"topic": "ops.noop", "limit": 1001}', /^limit: must be between 1 and 1000/],
      ['{"topic": "ops.noop", "limit": 2.5}', /^limit: must be an integer/],
      ['{"topic": "ops.noop", "ttl": 4}', /^ttl: must be between 5 and 3600/],
      ['{"topic": "ops.noop", "ttl": 3601}', /^ttl: must be between 5 and 3600/],
      ['{"topic": "ops.noop", "limt": 5}', /limt/],
    ]
    for (const [body, message] of cases) {
      const res = await post(app, body, service)
      const json = await res.json()
      assert.equal(res.status, 400, `${body}: ${JSON.stringify(json)}`)
      assert.match(json.error.message, message, `${body}`)
    }
    const res = await post(app, '{"topic": ', service)
    assert.equal(res.status, 400)
    assert.equal((await res.json()).error.code, 'invalid_json')
  } finally {
    await sql.end({ timeout: 0 })
  }
})

Deno.test('createRegistry refuses a registration no run could use', () => {
  const handle = () => Promise.resolve()
  for (const bad of [{ concurrency: 0 }, { concurrency: -1 }, { concurrency: 2.5 }]) {
    assert.throws(() => createRegistry({ 't.bad': { handle, ...bad } }), /concurrency must be/)
  }
  for (const timeoutMs of [0, 0.5, -10, NaN]) {
    assert.throws(() => createRegistry({ 't.bad': { handle, timeoutMs } }), /timeoutMs must be/)
  }
  // deno-lint-ignore no-explicit-any
  assert.throws(() => createRegistry({ 't.bad': {} as any }), /handle must be a function/)
  assert.equal(createRegistry({ 't.ok': { handle, concurrency: 1, timeoutMs: 1 } }).size, 1)
})

Deno.test('config reads its variables with defaults and names a bad one', () => {
  assert.deepEqual(parseQueueWorkerConfig({}), {
    budgetMs: 50_000,
    concurrency: 8,
    handlerTimeoutMs: 30_000,
  })
  assert.equal(parseQueueWorkerConfig({ QUEUE_WORKER_BUDGET_MS: '20000' }).budgetMs, 20_000)
  assert.throws(
    () => parseQueueWorkerConfig({ QUEUE_WORKER_CONCURRENCY: '0' }),
    /QUEUE_WORKER_CONCURRENCY: must be between 1 and 100/,
  )
})

Deno.test({
  name: 'a run acks successes, fails errors only for their own jobs, and reports the counts',
  ignore: LIVE_DB_URL === undefined,
  async fn() {
    const sql = createDb(LIVE_DB_URL!)
    const topic = `test.app.${crypto.randomUUID()}`
    try {
      await sql`
        insert into public.events_queue (topic, payload, max_attempts)
        select ${topic}, jsonb_build_object('n', g), case when g = 3 then 1 else 5 end
          from generate_series(1, 6) g`
      const seen: number[] = []
      const registry = createRegistry({
        [topic]: {
          handle: async (job, { signal }) => {
            const n = (job.payload as { n: number }).n
            seen.push(n)
            if (n === 2 || n === 3) throw new Error(`job ${n} failed`)
            if (n === 4) {
              await new Promise((resolve) => signal.addEventListener('abort', resolve))
            }
          },
          timeoutMs: 200,
        },
      })
      const app = createQueueWorkerApp({ sql, env, registry })
      const res = await post(
        app,
        JSON.stringify({ topic, limit: 20, ttl: 30 }),
        await token('service_role'),
      )
      const body = await res.json()
      assert.equal(res.status, 200, JSON.stringify(body))
      assert.deepEqual(Object.keys(body).sort(), [
        'dead_lettered',
        'duration_ms',
        'errors',
        'processed',
      ])
      assert.equal(body.processed, 6)
      assert.equal(body.errors, 3)
      assert.equal(body.dead_lettered, 1)
      assert.deepEqual(seen.sort(), [1, 2, 3, 4, 5, 6])
      const rows = await sql<{ n: number; status: string; last_error: string | null }[]>`
        select (payload ->> 'n')::int as n, status, last_error
          from public.events_queue where topic = ${topic} order by 1`
      assert.deepEqual(rows.map((r) => r.status), [
        'done',
        'queued',
        'error',
        'queued',
        'done',
        'done',
      ])
      assert.match(rows[1].last_error!, /job 2 failed/)
      assert.match(rows[2].last_error!, /job 3 failed/)
      assert.match(rows[3].last_error!, /timed out after 200 ms/)
    } finally {
      await sql`delete from public.events_queue where topic = ${topic}`
      await sql.end({ timeout: 0 })
    }
  },
})

Deno.test({
  name: 'a handler that ignores its signal is failed with a timeout and the answer comes in budget',
  ignore: LIVE_DB_URL === undefined,
  async fn() {
    const sql = createDb(LIVE_DB_URL!)
    const topic = `test.app.ignores-signal.${crypto.randomUUID()}`
    const pending: Promise<void>[] = []
    try {
      await sql`insert into public.events_queue (topic, payload) values (${topic}, '{}')`
      let signal: AbortSignal | undefined
      const registry = createRegistry({
        [topic]: {
          // Never looks at its signal; runs 1.5 s against a 500 ms budget.
          handle: (_job, ctx) => {
            signal = ctx.signal
            const p = new Promise<void>((resolve) => setTimeout(resolve, 1_500))
            pending.push(p)
            return p
          },
          timeoutMs: 60_000,
        },
      })
      const app = createQueueWorkerApp({ sql, env, registry, config: { budgetMs: 500 } })
      const started = performance.now()
      const res = await post(app, JSON.stringify({ topic, ttl: 30 }), await token('service_role'))
      const elapsed = performance.now() - started
      const body = await res.json()
      assert.equal(res.status, 200, JSON.stringify(body))
      assert.ok(elapsed < 900, `answered after ${elapsed} ms with a 500 ms budget`)
      assert.equal(body.processed, 1)
      assert.equal(body.errors, 1)
      assert.ok(signal?.aborted, 'the handler was given a signal, and it fired')
      const [row] = await sql<{ status: string; last_error: string }[]>`
        select status, last_error from public.events_queue where topic = ${topic}`
      assert.equal(row.status, 'queued')
      assert.match(row.last_error, /HandlerTimeoutError|timed out after \d+ ms/)
    } finally {
      await Promise.all(pending)
      await sql`delete from public.events_queue where topic = ${topic}`
      await sql.end({ timeout: 0 })
    }
  },
})

Deno.test({
  name: "a topic handler extends its own job's lease through its context",
  ignore: LIVE_DB_URL === undefined,
  async fn() {
    const sql = createDb(LIVE_DB_URL!)
    const topic = `test.app.extends.${crypto.randomUUID()}`
    try {
      await sql`insert into public.events_queue (topic, payload) values (${topic}, '{}')`
      let extended: boolean | undefined
      let leaseSeconds: number | undefined
      const registry = createRegistry({
        [topic]: {
          handle: async (job, ctx) => {
            extended = await ctx.extendLease(600)
            const [row] = await sql<{ s: number }[]>`
              select extract(epoch from lease_expires_at - now())::float8 as s
                from public.events_queue where id = ${job.id}`
            leaseSeconds = row.s
          },
        },
      })
      const app = createQueueWorkerApp({ sql, env, registry, config: { budgetMs: 50_000 } })
      const res = await post(app, JSON.stringify({ topic, ttl: 30 }), await token('service_role'))
      const body = await res.json()
      assert.equal(res.status, 200, JSON.stringify(body))
      assert.equal(body.processed, 1)
      assert.equal(body.errors, 0)
      assert.equal(extended, true)
      // 600 s asked, cut to the run's 50 s budget: longer than the 30 s lease, never past it.
      assert.ok(leaseSeconds! > 35 && leaseSeconds! <= 50, `lease now ${leaseSeconds} s long`)
      const [row] = await sql<{ status: string }[]>`
        select status from public.events_queue where topic = ${topic}`
      assert.equal(row.status, 'done')
    } finally {
      await sql`delete from public.events_queue where topic = ${topic}`
      await sql.end({ timeout: 0 })
    }
  },
})
