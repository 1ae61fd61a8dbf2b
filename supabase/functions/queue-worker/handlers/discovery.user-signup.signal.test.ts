// The 'discovery.user-signup' handler honours its signal: it does not query once the job's time
// is up, and cancels its query when the time runs out mid-query. No database needed: the `sql`
// is a stand-in that records queries and cancels.
import assert from 'node:assert/strict'
import type { Sql } from '../../_shared/db.ts'
import type { Env } from '../../_shared/env.ts'
import type { EventJob } from '../../_shared/lease.ts'
import { keepLease } from '../../_shared/drain_testing.ts'
import { DISCOVERY_USER_SIGNUP_TOPIC, discoveryUserSignup } from './discovery.user-signup.ts'

const job = {
  id: '1',
  topic: DISCOVERY_USER_SIGNUP_TOPIC,
  payload: { user_id: crypto.randomUUID() },
} as EventJob<unknown>

/** A `sql` whose queries never finish until cancelled (then they reject, as postgres.js does). */
function hangingSql() {
  const log = { queries: 0, cancels: 0 }
  const sql = () => {
    log.queries++
    let reject!: (err: Error) => void
    const query = new Promise<never>((_, r) => reject = r) as Promise<never> & { cancel(): void }
    query.cancel = () => {
      log.cancels++
      reject(new Error('canceling statement due to user request'))
    }
    return query
  }
  return { sql: sql as unknown as Sql, log }
}

Deno.test('with its signal already aborted, the handler does not query', async () => {
  const { sql, log } = hangingSql()
  const controller = new AbortController()
  controller.abort(new Error('handler timed out'))
  await assert.rejects(
    discoveryUserSignup(job, {
      sql,
      env: {} as Env,
      signal: controller.signal,
      extendLease: keepLease,
    }),
    /handler timed out/,
  )
  assert.equal(log.queries, 0)
})

Deno.test('when its signal fires mid-query, the handler cancels the query', async () => {
  const { sql, log } = hangingSql()
  const controller = new AbortController()
  const run = discoveryUserSignup(job, {
    sql,
    env: {} as Env,
    signal: controller.signal,
    extendLease: keepLease,
  })
  controller.abort()
  await assert.rejects(run, /canceling statement/)
  assert.deepEqual(log, { queries: 1, cancels: 1 })
})
