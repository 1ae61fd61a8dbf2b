import assert from 'node:assert/strict'
import { createDb, withUser } from './db.ts'

// Set by local/run_tests.ts (a throwaway cluster with the platform roles); skipped otherwise.
const LIVE_DB_URL = Deno.env.get('SUPABASE_DB_URL')
const USER_ID = '6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f'

type Session = { role: string; claims: string | null }

Deno.test({
  name: 'withUser runs as authenticated with the claims, and neither outlives the transaction',
  ignore: LIVE_DB_URL === undefined,
  async fn() {
    // One connection, so the follow-up query is guaranteed to reuse the same session.
    const sql = createDb(LIVE_DB_URL!, { max: 1 })
    try {
      const claims = { role: 'authenticated', sub: USER_ID }
      const [inside] = await withUser(sql, claims, (tx) =>
        tx<Session[]>`
          select current_user as role, current_setting('request.jwt.claims', true) as claims
        `)
      assert.equal(inside.role, 'authenticated')
      assert.deepEqual(JSON.parse(inside.claims!), claims)

      const [after] = await sql<Session[]>`
        select current_user as role, current_setting('request.jwt.claims', true) as claims
      `
      assert.notEqual(after.role, 'authenticated')
      assert.ok(after.claims === null || after.claims === '')
    } finally {
      await sql.end({ timeout: 0 })
    }
  },
})

Deno.test({
  name: 'withUser runs as authenticated even when the claims say service_role',
  ignore: LIVE_DB_URL === undefined,
  async fn() {
    const sql = createDb(LIVE_DB_URL!, { max: 1 })
    try {
      const [row] = await withUser(
        sql,
        { role: 'service_role', sub: USER_ID },
        (tx) =>
          tx<Session[]>`
          select current_user as role, current_setting('request.jwt.claims', true) as claims
        `,
      )
      assert.equal(row.role, 'authenticated')
      assert.deepEqual(JSON.parse(row.claims!), { role: 'authenticated', sub: USER_ID })
    } finally {
      await sql.end({ timeout: 0 })
    }
  },
})

Deno.test({
  name: 'an error inside withUser rolls the transaction back and surfaces',
  ignore: LIVE_DB_URL === undefined,
  async fn() {
    const sql = createDb(LIVE_DB_URL!, { max: 1 })
    try {
      await assert.rejects(
        withUser(sql, { role: 'authenticated', sub: USER_ID }, async (tx) => {
          await tx`select 1`
          throw new Error('stop')
        }),
        /stop/,
      )
      const [row] = await sql<{ role: string }[]>`select current_user as role`
      assert.notEqual(row.role, 'authenticated')
    } finally {
      await sql.end({ timeout: 0 })
    }
  },
})

Deno.test({
  name: 'every session has the lock and statement timeouts it was created with',
  ignore: LIVE_DB_URL === undefined,
  async fn() {
    const defaults = createDb(LIVE_DB_URL!, { max: 1 })
    const custom = createDb(LIVE_DB_URL!, { max: 1, lockTimeoutMs: 750, statementTimeoutMs: 300 })
    try {
      const show = (sql: typeof defaults) =>
        sql<{ lock: string; statement: string }[]>`
          select current_setting('lock_timeout') as lock,
                 current_setting('statement_timeout') as statement`
      assert.deepEqual([...await show(defaults)], [{ lock: '2s', statement: '1min' }])
      assert.deepEqual([...await show(custom)], [{ lock: '750ms', statement: '300ms' }])
      // And they hold: a statement over its timeout is cancelled (57014).
      await assert.rejects(custom`select pg_sleep(2)`, (err: { code?: string }) => {
        assert.equal(err.code, '57014')
        return true
      })
    } finally {
      await defaults.end({ timeout: 0 })
      await custom.end({ timeout: 0 })
    }
  },
})
