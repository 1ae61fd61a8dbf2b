// The token, policy evaluate, metrics record-deployment and gc commands against the test stack:
// tokens verify with the stack's secret and are refused for a remote target, the policy report
// reads both sources, deployments land with their ledger row, and gc deletes old learning rows.
import assert from 'node:assert/strict'
import { jwtVerify } from 'jose'
import { testStackEnv } from '../local/testing.ts'
import { main } from './cli.ts'
import { withSql } from './testing.ts'
import { type Operator, UsageError } from './connection.ts'
import { parseDeployment, recordDeployment } from './metrics.ts'
import { evaluatePolicy, formatEvaluation } from './policy.ts'
import { runMaintenance } from './queue.ts'
import { localToken } from './token.ts'

const env = testStackEnv()
const op: Operator = { actor: 'ops:test', reason: 'ops runbooks test' }
const USER = '3f2504e0-4f89-41d3-9a0c-0305e82c3301'

Deno.test('token signs a JWT the local stack accepts, with the asked role and lifetime', async () => {
  const now = Math.floor(Date.now() / 1000)
  const t = await localToken(env, { user: USER, role: 'service_role', ttl: '15m' }, now)
  const { payload } = await jwtVerify(t.token, new TextEncoder().encode(env.jwtSecret))
  assert.equal(payload.sub, USER)
  assert.equal(payload.role, 'service_role')
  assert.equal(payload.exp, now + 900)
  // The gateway lets it through where a service key is required.
  const res = await fetch(`${env.apiUrl}/rest/v1/rpc/health_check`, {
    method: 'POST',
    headers: { apikey: env.anonKey, authorization: `Bearer ${t.token}` },
  })
  await res.body?.cancel()
  assert.equal(res.status, 200)
})

Deno.test('token is refused for a remote target and for bad arguments', async () => {
  const remote = {
    dbUrl: 'postgresql://postgres:x@db.abcd.supabase.co:5432/postgres',
    apiUrl: env.apiUrl,
  }
  await assert.rejects(() => localToken(remote, { user: USER }), /remote target \(db\.abcd/)
  await assert.rejects(() => localToken(env, { user: 'nope' }), UsageError)
  await assert.rejects(() => localToken(env, { user: USER, role: 'anon' }), /--role/)
  await assert.rejects(() => localToken(env, { user: USER, ttl: '1 week' }), /--ttl/)
  assert.equal(await main(['token', '--user', 'nope']), 2)
})

Deno.test('policy evaluate reports the off-policy estimates and policy health', () =>
  withSql(async (sql) => {
    const e = await evaluatePolicy(sql, 'epsilon_greedy_v1', '24 hours', 10)
    assert.ok(Array.isArray(e.ope) && Array.isArray(e.health))
    assert.match(formatEvaluation(e), /^policy epsilon_greedy_v1, last 24 hours/)
    assert.match(formatEvaluation(e), /off-policy estimates:[\s\S]*health \(last 24 h\):/)
    assert.equal(await main(['policy', 'evaluate', '--clip', '0.5']), 2)
    assert.equal(await main(['policy', 'evaluate', '--json']), 0)
  }))

Deno.test('record-deployment starts and finishes a deployment, ledgered with the actor', () =>
  withSql(async (sql) => {
    const flags = {
      environment: 'staging',
      component: 'ops-test',
      version: 'v0.0.1',
      'git-sha': 'abcdef1',
    }
    try {
      const started = await recordDeployment(sql, op, parseDeployment(flags))
      const done = await recordDeployment(
        sql,
        op,
        parseDeployment({ ...flags, status: 'succeeded' }),
      )
      assert.equal(done, started)
      const [row] = await sql`select status, finished_at from metrics.deployments
                               where id = ${started}`
      assert.equal(row.status, 'succeeded')
      assert.ok(row.finished_at)
      const [ledger] = await sql`
        select actor, reason from public.ai_action_ledger
         where action = 'metrics.record_deployment' order by id desc limit 1`
      assert.deepEqual({ ...ledger }, { actor: 'ops:test', reason: 'ops runbooks test' })
    } finally {
      await sql`delete from metrics.deployments where component = 'ops-test'`
    }
    assert.throws(() => parseDeployment({ ...flags, environment: 'prod' }), /--environment/)
    assert.throws(() => parseDeployment({ ...flags, 'git-sha': 'XYZ' }), /--git-sha/)
    assert.throws(() => parseDeployment({ ...flags, status: 'done' }), /--status/)
    assert.throws(() => parseDeployment({ ...flags, component: '' }), /--component is required/)
    assert.equal(await main(['metrics', 'record-deployment', '--reason', 'x']), 2)
  }))

Deno.test('gc deletes learning events past retention and reports the counts', () =>
  withSql(async (sql) => {
    const [{ id }] = await sql`
      insert into public.learning_events (ts, policy)
      values (now() - interval '400 days', 'ops_test') returning id`
    try {
      const gc = await runMaintenance(sql, op)
      assert.ok(gc.learningEventsDeleted >= 1)
      assert.equal(typeof gc.intentSignalsDeleted, 'number')
      assert.equal((await sql`select 1 from public.learning_events where id = ${id}`).length, 0)
      const [ledger] = await sql`
        select actor from public.ai_action_ledger
         where action = 'learning.gc_learning_events' order by id desc limit 1`
      assert.equal(ledger.actor, 'ops:test')
    } finally {
      await sql`delete from public.learning_events where id = ${id}`
    }
  }))
