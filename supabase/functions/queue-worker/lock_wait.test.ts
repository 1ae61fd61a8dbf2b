// A run against a queue someone holds locked: it gives up at the lock timeout with a 503 the
// caller can retry, and a caller that goes away takes its waiting query with it.
import assert from 'node:assert/strict'
import { SignJWT } from 'jose'
import { adminSql, eventually, testStackEnv } from '../../../local/testing.ts'
import { createDb } from '../_shared/db.ts'
import { parseEnv } from '../_shared/env.ts'
import { NO_SPANS } from '../_shared/spans.ts'
import { createQueueWorkerApp } from './app.ts'
import { NOOP_TOPIC, productionRegistry } from './registry.ts'

const env = testStackEnv()

/**
 * Holds `lock table public.events_queue in access exclusive mode` (what the tester ran) until
 * the returned release() is called; resolves once the lock is held.
 */
async function lockEventsQueue() {
  const sql = adminSql(env, 1)
  let release!: () => void
  const released = new Promise<void>((resolve) => release = resolve)
  let locked!: () => void
  const isLocked = new Promise<void>((resolve) => locked = resolve)
  const holding = sql.begin(async (tx) => {
    await tx`lock table public.events_queue in access exclusive mode`
    locked()
    // Never longer than this, whatever happens to the test.
    await Promise.race([released, new Promise((r) => setTimeout(r, 15_000))])
  })
  await isLocked
  return async () => {
    release()
    await holding
    await sql.end()
  }
}

Deno.test('a lease stuck behind a lock answers 503 database_busy with Retry-After', async () => {
  const unlock = await lockEventsQueue()
  try {
    const started = Date.now()
    const res = await fetch(`${env.apiUrl}/functions/v1/queue-worker`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${env.serviceRoleKey}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ topic: NOOP_TOPIC }),
    })
    const elapsed = Date.now() - started
    const body = await res.json()
    assert.equal(res.status, 503, JSON.stringify(body))
    assert.equal(body.error.code, 'database_busy')
    assert.equal(res.headers.get('retry-after'), '1')
    // The default lock timeout is 2 s; the lock is held for up to 15.
    assert.ok(elapsed < 8000, `answered after ${elapsed} ms`)
  } finally {
    await unlock()
  }
})

Deno.test('a caller that goes away cancels the query waiting for the lock', async () => {
  const applicationName = `lock-wait-test-${crypto.randomUUID().slice(0, 8)}`
  // A lock timeout far past the test, so only the cancellation can end the wait.
  const sql = createDb(env.dbUrl, { lockTimeoutMs: 60_000, applicationName })
  const admin = adminSql(env, 1)
  const unlock = await lockEventsQueue()
  try {
    const app = createQueueWorkerApp({
      sql,
      env: parseEnv({
        SUPABASE_URL: env.apiUrl,
        SUPABASE_DB_URL: env.dbUrl,
        SUPABASE_ANON_KEY: env.anonKey,
        SUPABASE_SERVICE_ROLE_KEY: env.serviceRoleKey,
        JWT_SECRET: env.jwtSecret,
      }),
      registry: productionRegistry(),
      spans: NO_SPANS,
    })
    const token = await new SignJWT({ role: 'service_role' })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(env.jwtSecret))
    const caller = new AbortController()
    const answer = app.request(
      new Request('http://local/queue-worker', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ topic: NOOP_TOPIC }),
        signal: caller.signal,
      }),
    )
    const waiting = () =>
      admin<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity
         where application_name = ${applicationName} and wait_event_type = 'Lock'`
    await eventually(async () => (await waiting())[0].n === 1 || null, 5000)
    caller.abort()
    const res = await answer
    assert.notEqual(res.status, 200)
    await res.body?.cancel()
    // Still locked: only the cancel can have stopped the wait.
    await eventually(async () => (await waiting())[0].n === 0 || null, 3000)
  } finally {
    await unlock()
    await admin.end()
    await sql.end({ timeout: 0 })
  }
})
