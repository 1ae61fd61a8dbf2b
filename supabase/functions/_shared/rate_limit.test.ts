import assert from 'node:assert/strict'
import { SignJWT } from 'jose'
import type { FunctionConfig } from '../../../local/config.ts'
import { createGatewayHandler } from '../../../local/gateway.ts'
import { adminSql, testStackEnv } from '../../../local/testing.ts'
import { createTokenVerifier, requireUser, type UserVars } from './auth.ts'
import { createDb, type Sql } from './db.ts'
import { createApp } from './http.ts'
import { applyRateLimit, createRateLimitCheck, rateLimit } from './rate_limit.ts'

const env = testStackEnv()
// A day-long window: a test never straddles a window boundary, so counts are exact.
const DAY = 86400

const unique = (label: string) => `${label}:${crypto.randomUUID()}`

function limitedApp(sql: Sql, bucket: string, limit: number) {
  const app = createApp('rl-stub')
  app.use(rateLimit({
    sql,
    bucket,
    limit,
    windowSeconds: DAY,
    subject: (c) => c.req.header('x-client-id'),
  }))
  app.get('/', (c) => c.json({ ok: true }))
  return app
}

Deno.test('100 parallel check_rate_limit calls admit exactly the limit', async () => {
  const sql = adminSql(env, 20)
  try {
    const subject = unique('parallel')
    const results = await Promise.all(
      Array.from({ length: 100 }, () =>
        sql<{ allowed: boolean; remaining: number }[]>`
          select allowed, remaining from public.check_rate_limit(
            p_subject => ${subject}::text, p_bucket => 'parallel-test'::text,
            p_limit => 37::int, p_window_seconds => ${DAY}::int)`),
    )
    const rows = results.map((r) => r[0])
    assert.equal(rows.filter((r) => r.allowed).length, 37)
    assert.deepEqual(
      rows.filter((r) => r.allowed).map((r) => r.remaining).sort((a, b) => a - b),
      Array.from({ length: 37 }, (_, i) => i),
      'each admitted call saw a distinct remaining count',
    )
    const [{ count }] = await sql<{ count: number }[]>`
      select count from public.rate_limits where subject = ${subject}`
    assert.equal(count, 37, 'refused calls did not add to the count')
  } finally {
    await sql.end()
  }
})

Deno.test('the middleware sets RateLimit headers and answers 429 with Retry-After once spent', async () => {
  const sql = createDb(env.dbUrl, { max: 2 })
  try {
    const app = limitedApp(sql, unique('headers'), 2)
    const headers = { 'x-client-id': 'client-1' }
    const first = await app.request('/rl-stub', { headers })
    assert.equal(first.status, 200)
    assert.equal(first.headers.get('ratelimit-limit'), '2')
    assert.equal(first.headers.get('ratelimit-remaining'), '1')
    assert.equal(first.headers.get('x-ratelimit-remaining'), '1')
    assert.equal(first.headers.get('ratelimit-policy'), `2;w=${DAY}`)
    const reset = Number(first.headers.get('ratelimit-reset'))
    assert.ok(reset >= 1 && reset <= DAY, `reset ${reset}`)
    await first.body?.cancel()

    assert.equal((await app.request('/rl-stub', { headers })).status, 200)
    const refused = await app.request('/rl-stub', { headers })
    assert.equal(refused.status, 429)
    const retryAfter = Number(refused.headers.get('retry-after'))
    assert.ok(retryAfter >= 1 && retryAfter <= DAY, `retry-after ${retryAfter}`)
    assert.equal(refused.headers.get('ratelimit-remaining'), '0')
    const body = await refused.json()
    assert.equal(body.error.code, 'rate_limited')
    assert.equal(body.error.message, `Rate limit exceeded: 2 requests per ${DAY} s`)
    assert.equal(body.error.details.limit, 2)
    assert.ok(!Number.isNaN(Date.parse(body.error.details.reset_at)))

    const other = await app.request('/rl-stub', { headers: { 'x-client-id': 'client-2' } })
    assert.equal(other.status, 200, 'another subject has its own budget')
    await other.body?.cancel()
    const exempt = await app.request('/rl-stub')
    assert.equal(exempt.status, 200, 'no subject: not limited')
    assert.equal(exempt.headers.get('ratelimit-limit'), null)
    await exempt.body?.cancel()
  } finally {
    await sql.end({ timeout: 0 })
  }
})

Deno.test('a handler can run the check itself and answer it with applyRateLimit', async () => {
  const sql = createDb(env.dbUrl, { max: 2 })
  try {
    const bucket = unique('direct')
    const check = createRateLimitCheck({ sql, bucket, limit: 1, windowSeconds: DAY })
    const app = createApp('rl-stub')
    app.get('/', async (c) => {
      const verdict = check('client-1') // started first, settled before answering
      const work = await Promise.resolve('done')
      applyRateLimit(c, await verdict)
      return c.json({ work })
    })
    const first = await app.request('/rl-stub')
    assert.equal(first.status, 200)
    assert.deepEqual(await first.json(), { work: 'done' })
    assert.equal(first.headers.get('ratelimit-remaining'), '0')
    assert.equal(first.headers.get('ratelimit-policy'), `1;w=${DAY}`)
    const refused = await app.request('/rl-stub')
    assert.equal(refused.status, 429)
    assert.ok(Number(refused.headers.get('retry-after')) >= 1)
    assert.equal((await refused.json()).error.details.bucket, bucket)

    const verdict = await check('client-2')
    assert.equal(verdict.allowed, true)
    assert.equal(verdict.remaining, 0)
    assert.ok(verdict.resetSeconds >= 1 && verdict.resetSeconds <= DAY)
    assert.equal((await check('client-2')).allowed, false, 'each call is counted')
  } finally {
    await sql.end({ timeout: 0 })
  }
})

Deno.test('an unreachable database answers 503, not 429 or 200', async () => {
  const sql = createDb('postgres://postgres:postgres@127.0.0.1:1/postgres')
  try {
    const res = await limitedApp(sql, 'dead', 5).request('/rl-stub', {
      headers: { 'x-client-id': 'c' },
    })
    assert.equal(res.status, 503)
    assert.equal((await res.json()).error.code, 'database_unavailable')
  } finally {
    await sql.end({ timeout: 0 })
  }
})

Deno.test('rateLimit refuses a nonsensical configuration at start-up', () => {
  const sql = null as unknown as Sql
  const subject = () => 'x'
  assert.throws(() => rateLimit({ sql, bucket: 'b', limit: 0, windowSeconds: 60, subject }))
  assert.throws(() => rateLimit({ sql, bucket: 'b', limit: 1, windowSeconds: 0, subject }))
  assert.throws(() => rateLimit({ sql, bucket: 'b', limit: 1, windowSeconds: DAY + 1, subject }))
  assert.throws(() => createRateLimitCheck({ sql, bucket: 'b', limit: 1.5, windowSeconds: 60 }))
})

Deno.test('through the gateway: a signed-in user gets 429 with Retry-After after the limit', async () => {
  const sql = createDb(env.dbUrl, { max: 2 })
  const userId = crypto.randomUUID()
  const token = await new SignJWT({ role: 'authenticated', sub: userId })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(env.jwtSecret))

  // A function as the project writes them: requireUser, then the limit per user id.
  const app = createApp<UserVars>('rl-stub')
  app.use(requireUser({ verifier: createTokenVerifier({ jwtSecret: env.jwtSecret }) }))
  app.use(rateLimit<{ Variables: UserVars }>({
    sql,
    bucket: unique('gateway'),
    limit: 3,
    windowSeconds: DAY,
    subject: (c) => c.get('userId'),
  }))
  app.post('/decide', (c) => c.json({ user: c.get('userId') }))

  const upstream = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, app.fetch)
  const functions = new Map<string, FunctionConfig>([
    ['rl-stub', { name: 'rl-stub', verifyJwt: true, entrypoint: '/dev/null' }],
  ])
  const gateway = Deno.serve(
    { hostname: '127.0.0.1', port: 0, onListen: () => {} },
    createGatewayHandler({
      functions,
      functionPorts: new Map([['rl-stub', upstream.addr.port]]),
      jwtSecret: env.jwtSecret,
      rpc: { sql: null as never, jwtSecret: env.jwtSecret },
    }),
  )
  try {
    const url = `http://127.0.0.1:${gateway.addr.port}/functions/v1/rl-stub/decide`
    const call = () =>
      fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: '{}' })
    const statuses: number[] = []
    for (let i = 0; i < 3; i++) {
      const res = await call()
      statuses.push(res.status)
      assert.equal(res.headers.get('ratelimit-remaining'), String(2 - i))
      assert.deepEqual(await res.json(), { user: userId })
    }
    const refused = await call()
    statuses.push(refused.status)
    assert.deepEqual(statuses, [200, 200, 200, 429])
    const retryAfter = Number(refused.headers.get('retry-after'))
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= DAY)
    assert.equal(refused.headers.get('content-type'), 'application/json')
    assert.equal((await refused.json()).error.code, 'rate_limited')

    const [{ count }] = await sql<{ count: number }[]>`
      select count from public.rate_limits where subject = ${userId}`
    assert.equal(count, 3, 'the counter is kept per user id')
  } finally {
    await gateway.shutdown()
    await upstream.shutdown()
    await sql.end({ timeout: 0 })
  }
})
