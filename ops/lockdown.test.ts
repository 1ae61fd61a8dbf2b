// ops lockdown against the test stack, through the gateway: during a lockdown anon cannot reach
// what it could before, while the health_check RPC and the health function keep answering and
// report the lockdown, and safe mode can still be thrown; off gives anon back exactly what it had.
import assert from 'node:assert/strict'
import { testStackEnv } from '../local/testing.ts'
import { main } from './cli.ts'
import type { Operator } from './connection.ts'
import { setSafeMode } from './flags.ts'
import { lockdownOff, lockdownOn, lockdownStatus } from './lockdown.ts'
import { type AdminSql, withSql } from './testing.ts'

const env = testStackEnv()
const op: Operator = { actor: 'ops:test', reason: 'lockdown drill' }

function rpcAsAnon(fn: string) {
  return fetch(`${env.apiUrl}/rest/v1/rpc/${fn}`, {
    method: 'POST',
    headers: {
      apikey: env.anonKey,
      authorization: `Bearer ${env.anonKey}`,
      'content-type': 'application/json',
    },
    body: '{}',
  })
}

/** What anon may do with the probe objects, and everything it can use in public. */
async function anonReach(sql: AdminSql) {
  const [row] = await sql`
    select has_table_privilege('anon', 'public.lockdown_probe', 'SELECT') as probe_select,
           has_function_privilege('anon', 'public.lockdown_probe_count()', 'EXECUTE')
             as probe_execute,
           has_function_privilege('anon', 'public.health_check()', 'EXECUTE') as health,
           ops.anon_still_reachable() as reachable,
           ops.anon_public_grants() as grants`
  return { ...row }
}

async function anonCanRead(sql: AdminSql): Promise<boolean> {
  try {
    await sql.begin(async (tx) => {
      await tx`set local role anon`
      await tx`select * from public.lockdown_probe`
    })
    return true
  } catch (err) {
    if ((err as { code?: string }).code === '42501') return false
    throw err
  }
}

Deno.test('lockdown shuts anon out while health and safe mode keep working, off undoes it', () =>
  withSql(async (sql) => {
    await sql`create table public.lockdown_probe (id int primary key)`
    await sql`alter table public.lockdown_probe enable row level security`
    await sql`create policy lockdown_probe_anon on public.lockdown_probe for select to anon
                using (true)`
    await sql`insert into public.lockdown_probe values (1), (2)`
    await sql`grant select on public.lockdown_probe to anon`
    await sql`create function public.lockdown_probe_count() returns bigint language sql
                set search_path = '' as 'select count(*) from public.lockdown_probe'`
    await sql`revoke all on function public.lockdown_probe_count() from public`
    await sql`grant execute on function public.lockdown_probe_count() to anon`
    const safeBefore = (await sql`select value from public.feature_flags
                                   where key = 'global.safe_mode'`)[0].value
    try {
      const before = await anonReach(sql)
      let res = await rpcAsAnon('lockdown_probe_count')
      assert.equal(res.status, 200)
      assert.equal(await res.json(), 2)
      assert.equal(await anonCanRead(sql), true)

      const on = await lockdownOn(sql, op)
      assert.equal(on.revoked.length, 2)
      const [{ owner }] = await sql`select relowner::regrole::text as owner from pg_class
                                     where oid = 'public.lockdown_probe'::regclass`
      assert.deepEqual(on.revoked.map((g) => g.grantor), [owner, owner], 'grantors recorded')
      assert.deepEqual(on.still_reachable, [])
      assert.equal(await anonCanRead(sql), false, 'anon cannot read the table')
      res = await rpcAsAnon('lockdown_probe_count')
      await res.body?.cancel()
      // As PostgREST does, the RPC route hides a function the role may not run.
      assert.equal(res.status, 404, 'the RPC is refused')

      res = await rpcAsAnon('health_check')
      const report = await res.json()
      assert.equal(res.status, 200)
      assert.equal(report.rls.anon_lockdown.active, true)
      res = await fetch(`${env.apiUrl}/functions/v1/health`)
      const health = await res.json()
      assert.equal(res.status, 200)
      assert.equal(health.rls.anon_lockdown.active, true)

      const safe = await setSafeMode(sql, op, 'on')
      assert.deepEqual(safe.after, { enabled: true })
      assert.equal((await lockdownStatus(sql)).active, true)
      assert.equal(await main(['lockdown', 'on', '--reason', 'again']), 0, 'on twice is fine')
      assert.equal(await main(['lockdown', 'status', '--json']), 0)

      const off = await lockdownOff(sql, op)
      assert.equal(off.restored.length, 2)
      assert.deepEqual(await anonReach(sql), before)
      res = await rpcAsAnon('lockdown_probe_count')
      assert.equal(res.status, 200)
      assert.equal(await res.json(), 2)
      res = await rpcAsAnon('health_check')
      assert.equal((await res.json()).rls.anon_lockdown.active, false)
      assert.equal(await main(['lockdown', 'off', '--reason', 'twice']), 1, 'off twice fails')
    } finally {
      if ((await lockdownStatus(sql)).active) await lockdownOff(sql, op)
      await sql`update public.feature_flags set value = ${JSON.stringify(safeBefore)}::text::jsonb
                 where key = 'global.safe_mode'`
      await sql`drop function if exists public.lockdown_probe_count()`
      await sql`drop table if exists public.lockdown_probe`
    }
  }))

Deno.test('lockdown needs on, off or status and a reason for changes', async () => {
  assert.equal(await main(['lockdown', 'sideways', '--reason', 'x']), 2)
  assert.equal(await main(['lockdown', 'on']), 2)
  await withSql(async (sql) => assert.equal((await lockdownStatus(sql)).active, false))
})
