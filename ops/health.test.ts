// `ops health` against the test stack: each check passes on a healthy stack, the throwaway
// sign-up leaves nothing behind, a dead API fails the command, and a lockdown is reported.
import assert from 'node:assert/strict'
import { adminSql, testStackEnv } from '../local/testing.ts'
import { type AdminSql, withSql } from './testing.ts'
import type { Target } from './connection.ts'
import { health, parseFailOn, removeUsers } from './health.ts'
import { createConfirmedUser } from './throwaway_user.ts'
import { main } from './cli.ts'

const env = testStackEnv()
const target: Target = { ...env, remote: false }

const CHECKS = [
  'health function',
  'health_check RPC (anon key)',
  'sign-up (throwaway address)',
  'authenticated RPC',
  'queue health',
  'policy health',
  'firing alerts',
  'cron → function failures',
  'anon lockdown',
  'cleanup',
]
/** The two whose outcome other tests' leftovers (failed spans, cron runs) can change. */
const STACK_DEPENDENT = ['firing alerts', 'cron → function failures']

async function counts(sql: AdminSql) {
  const [row] = await sql`
    select (select count(*) from auth.users)::int as users,
           (select count(*) from public.events_queue)::int as events,
           (select count(*) from public.marketplace_discovery_queue)::int as discovery`
  return { ...row }
}

Deno.test('health passes its checks on the stack and deletes the throwaway user', () =>
  withSql(async (sql) => {
    const before = await counts(sql)
    const { checks } = await health(sql, target, { emailDomain: 'example.test' })
    assert.deepEqual(checks.map((c) => c.name), CHECKS)
    for (const c of checks.filter((c) => !STACK_DEPENDENT.includes(c.name))) {
      assert.ok(c.ok, `${c.name}: ${c.detail}`)
    }
    assert.match(checks[2].detail, /^health-check\+[\w-]+@example\.test signed up with a session$/)
    assert.match(checks[9].detail, /deleted 1 throwaway user/)
    assert.deepEqual(await counts(sql), before)
    // The command's exit code follows the checks, firing alerts included.
    const expected = checks.every((c) => c.ok) ? 0 : 1
    assert.equal(await main(['health', '--email-domain', 'example.test', '--json']), expected)
  }))

Deno.test('health --no-signup signs in as an admin-made confirmed user and deletes it', () =>
  withSql(async (sql) => {
    const before = await counts(sql)
    const { checks } = await health(sql, target, { emailDomain: 'example.test', signUp: false })
    assert.equal(checks[2].name, 'signed-in user (admin API, no sign-up)')
    assert.ok(checks[2].ok, checks[2].detail)
    assert.match(checks[2].detail, /^signed in as health-check\+[\w-]+@example\.test$/)
    assert.ok(checks[3].ok, `authenticated RPC: ${checks[3].detail}`)
    assert.match(checks[9].detail, /deleted 1 throwaway user/)
    assert.deepEqual(await counts(sql), before)
  }))

Deno.test('health fails, exiting 1, when the API does not answer', () =>
  withSql(async (sql) => {
    const dead = { ...target, apiUrl: 'http://127.0.0.1:9' }
    const { checks } = await health(sql, dead)
    const failed = checks.filter((c) => !c.ok).map((c) => c.name)
    for (
      const name of [
        'health function',
        'health_check RPC (anon key)',
        'sign-up (throwaway address)',
        'authenticated RPC',
      ]
    ) assert.ok(failed.includes(name), `${name} passed with no API`)
    // The database checks do not need the API.
    for (const name of ['queue health', 'policy health', 'cleanup']) {
      assert.ok(!failed.includes(name), `${name} failed: the database is up`)
    }
    assert.equal(await main(['health', '--url', 'http://127.0.0.1:9']), 1)
  }))

Deno.test('health reports a firing alert and a failing cron job by name', () =>
  withSql(async (sql) => {
    // A dead letter fires queue.dead_letters (warning).
    const [{ id }] = await sql`
      insert into public.events_queue (topic, payload, status, attempts, last_error)
      values ('ops.health.test', '{}', 'error', 5, 'boom') returning id`
    try {
      const { checks } = await health(sql, target)
      const alerts = checks.find((c) => c.name === 'firing alerts')!
      assert.equal(alerts.ok, false)
      assert.match(alerts.detail, /queue\.dead_letters \(warning/)
      // A pipeline's --fail-on critical lists the warning without failing on it (other tests'
      // leftovers may fire a critical rule, which must then be all that fails it).
      const relaxed = (await health(sql, target, { signUp: false, failOn: 'critical' })).checks
        .find((c) => c.name === 'firing alerts')!
      if (relaxed.ok) {
        assert.match(
          relaxed.detail,
          /^firing below --fail-on critical: .*queue\.dead_letters \(warning\)/,
        )
      } else {
        assert.doesNotMatch(relaxed.detail, /\(warning/)
      }
    } finally {
      await sql`delete from public.events_queue where id = ${id}`
    }
  }))

Deno.test('--fail-on takes critical or warning (the default), and nothing else', async () => {
  assert.equal(parseFailOn(undefined), 'warning')
  assert.equal(parseFailOn('critical'), 'critical')
  assert.throws(() => parseFailOn('info'), /--fail-on must be critical or warning, got "info"/)
  assert.equal(await main(['health', '--fail-on', 'info']), 2)
})

Deno.test('cleanup tries every throwaway user and names the ones it could not delete', () =>
  withSql(async (sql) => {
    const user = await createConfirmedUser(target, 'health-check', 'example.test')
    const missing = crypto.randomUUID()
    await assert.rejects(
      () => removeUsers(sql, target, [missing, user.id]),
      new RegExp(`deleted 1 of 2 throwaway user\\(s\\); left: ${missing} \\(deleting`),
    )
    const [{ n }] = await sql`select count(*)::int as n from auth.users where id = ${user.id}`
    assert.equal(n, 0, 'the user after the failed one was not deleted')
  }))

/** The anon lockdown (ops.lockdown_on/off) is in the schema. */
const lockdownExists = await (async () => {
  const sql = adminSql()
  try {
    const [row] = await sql`select to_regprocedure('ops.lockdown_on(text)') is not null as ok`
    return row.ok as boolean
  } finally {
    await sql.end()
  }
})()

Deno.test({
  name: 'health reports an anon lockdown while one is on, and still passes its checks',
  ignore: !lockdownExists,
  fn: () =>
    withSql(async (sql) => {
      await sql`select ops.lockdown_on(p_reason => 'ops health test')`
      try {
        const { checks, lockdown } = await health(sql, target)
        assert.equal(lockdown?.active, true)
        const line = checks.find((c) => c.name === 'anon lockdown')!
        assert.ok(line.ok)
        assert.match(line.detail, /^ON since .*: anon is shut out$/)
        for (const name of ['health_check RPC (anon key)', 'sign-up (throwaway address)']) {
          const c = checks.find((c) => c.name === name)!
          assert.ok(c.ok, `${name} during a lockdown: ${c.detail}`)
        }
      } finally {
        await sql`select ops.lockdown_off(p_reason => 'ops health test')`
      }
    }),
})
