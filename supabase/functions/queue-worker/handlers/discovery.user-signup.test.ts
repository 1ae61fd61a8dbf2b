// The 'discovery.user-signup' handler against the real database: it queues one discovery item
// per interest of the job's user, is safe to run twice, and fails a job whose payload is wrong.
import assert from 'node:assert/strict'
import { createDb } from '../../_shared/db.ts'
import type { EventJob } from '../../_shared/lease.ts'
import { keepLease } from '../../_shared/drain_testing.ts'
import { parseEnv } from '../../_shared/env.ts'
import { adminSql, testStackEnv } from '../../../../local/testing.ts'
import { productionRegistry } from '../registry.ts'
import {
  DISCOVERY_USER_SIGNUP_TOPIC,
  discoveryUserSignup,
  payloadSchema,
} from './discovery.user-signup.ts'

const stack = testStackEnv()
const env = parseEnv({
  SUPABASE_URL: stack.apiUrl,
  SUPABASE_DB_URL: stack.dbUrl,
  SUPABASE_ANON_KEY: stack.anonKey,
  SUPABASE_SERVICE_ROLE_KEY: stack.serviceRoleKey,
  JWT_SECRET: stack.jwtSecret,
})

const job = (payload: unknown) =>
  ({ id: '1', topic: DISCOVERY_USER_SIGNUP_TOPIC, payload }) as EventJob<unknown>

Deno.test('discovery.user-signup is registered in the production registry', () => {
  assert.equal(productionRegistry().get(DISCOVERY_USER_SIGNUP_TOPIC)?.handle, discoveryUserSignup)
})

Deno.test('the handler queues one item per interest and is safe to run twice', async () => {
  const admin = adminSql()
  const sql = createDb(stack.dbUrl)
  const userId = crypto.randomUUID()
  try {
    await admin`insert into auth.users (id, email, created_at)
                values (${userId}, ${`${userId}@example.test`}, now())`
    await admin`
      insert into public.user_interests (user_id, interest_id, affinity) values
        (${userId}, '44444444-4444-4444-4444-444444444444', 0.5),
        (${userId}, '55555555-5555-5555-5555-555555555555', 0.6)`
    // The user_interests trigger queued these already; clear them so the handler's own work is
    // what the assertions see.
    await admin`delete from public.marketplace_discovery_queue where user_id = ${userId}`
    const ctx = { sql, env, signal: new AbortController().signal, extendLease: keepLease }
    await discoveryUserSignup(job({ user_id: userId }), ctx)
    await discoveryUserSignup(job({ user_id: userId }), ctx)
    const rows = await admin`
      select interest_id, status from public.marketplace_discovery_queue
      where user_id = ${userId} order by interest_id`
    assert.deepEqual(rows.map((r) => [r.interest_id, r.status]), [
      ['44444444-4444-4444-4444-444444444444', 'queued'],
      ['55555555-5555-5555-5555-555555555555', 'queued'],
    ])
  } finally {
    await admin`delete from auth.users where id = ${userId}`
    await admin.end()
    await sql.end()
  }
})

Deno.test('a job without a uuid user_id fails with a clear message', async () => {
  const sql = createDb(stack.dbUrl)
  try {
    const ctx = { sql, env, signal: new AbortController().signal, extendLease: keepLease }
    for (const payload of [{}, { user_id: 'nope' }, null, 'x']) {
      await assert.rejects(
        discoveryUserSignup(job(payload), ctx),
        /invalid discovery\.user-signup payload/,
        JSON.stringify(payload),
      )
    }
  } finally {
    await sql.end()
  }
})

Deno.test('the seeded test user (a non-RFC-4122 id Postgres accepts) is a valid payload', () => {
  // The seeded QA user 00000000-…-000000000001 signs up through this handler; a strict RFC
  // uuid check would fail its job until it dead-lettered.
  const parsed = payloadSchema.safeParse({ user_id: '00000000-0000-0000-0000-000000000001' })
  assert.equal(parsed.success, true)
  assert.equal(payloadSchema.safeParse({ user_id: 'not-a-uuid' }).success, false)
})
