// The ops CLI against the real test stack: flag changes land in the ledger with the operator's
// name and reason, refusals change nothing, and the DLQ commands move rows (smoke, health and
// release-check have their own test files).
import assert from 'node:assert/strict'
import { main } from './cli.ts'
import { type AdminSql, withSql } from './testing.ts'
import { type Operator, UsageError } from './connection.ts'
import { setCanary, setSafeMode } from './flags.ts'
import { parseQueue, redriveDeadLetters, runMaintenance } from './queue.ts'

const op: Operator = { actor: 'ops:test', reason: 'ops cli test' }

async function flagValue(sql: AdminSql, key: string) {
  return (await sql`select value from public.feature_flags where key = ${key}`)[0].value
}

Deno.test('safe-mode on for a percentage is written and ledgered with actor and reason', () =>
  withSql(async (sql) => {
    const before = await flagValue(sql, 'global.safe_mode')
    try {
      const change = await setSafeMode(sql, op, 'on', 95)
      assert.deepEqual(change.after, { enabled: true, percentage: 95 })
      assert.deepEqual(await flagValue(sql, 'global.safe_mode'), { enabled: true, percentage: 95 })
      const [row] = await sql`
        select actor, reason, after from public.ai_action_ledger
         where target = 'global.safe_mode' order by id desc limit 1`
      assert.equal(row.actor, 'ops:test')
      assert.equal(row.reason, 'ops cli test')
      assert.deepEqual(row.after, { enabled: true, percentage: 95 })
    } finally {
      await sql`update public.feature_flags set value = ${JSON.stringify(before)}::text::jsonb
                 where key = 'global.safe_mode'`
    }
  }))

Deno.test('a change without a reason is refused and changes nothing', () =>
  withSql(async (sql) => {
    const before = await flagValue(sql, 'global.safe_mode')
    await assert.rejects(
      () => setSafeMode(sql, { actor: 'ops:test', reason: ' ' }, 'on'),
      UsageError,
    )
    assert.deepEqual(await flagValue(sql, 'global.safe_mode'), before)
  }))

Deno.test('a value the database refuses changes nothing and leaves no ledger row', () =>
  withSql(async (sql) => {
    const before = await flagValue(sql, 'global.safe_mode')
    const ledgerBefore = (await sql`select count(*)::int as n from public.ai_action_ledger`)[0].n
    await assert.rejects(() => setSafeMode(sql, op, 'on', 150), /percentage/)
    assert.deepEqual(await flagValue(sql, 'global.safe_mode'), before)
    const ledgerAfter = (await sql`select count(*)::int as n from public.ai_action_ledger`)[0].n
    assert.equal(ledgerAfter, ledgerBefore)
  }))

Deno.test('a canary needs a boolean flag and a percentage from 0 to 100', () =>
  withSql(async (sql) => {
    await assert.rejects(() => setCanary(sql, op, 'ranker.policy', 10), UsageError)
    await assert.rejects(() => setCanary(sql, op, 'marketplace.suggest', 101), UsageError)
    await assert.rejects(() => setCanary(sql, op, 'no.such.flag', 10), UsageError)
  }))

Deno.test('dlq redrive puts a dead event back in the queue', () =>
  withSql(async (sql) => {
    const [{ id }] = await sql`
      insert into public.events_queue (topic, payload, status, attempts, last_error)
      values ('ops.test.dlq', '{}', 'error', 5, 'boom') returning id`
    try {
      assert.equal(await redriveDeadLetters(sql, op, parseQueue('events'), [Number(id)]), 1)
      const [row] = await sql`select status, attempts from public.events_queue where id = ${id}`
      assert.deepEqual({ ...row }, { status: 'queued', attempts: 0 })
    } finally {
      await sql`delete from public.events_queue where id = ${id}`
    }
  }))

Deno.test('an unknown queue name is a usage error', () => {
  assert.throws(() => parseQueue('nope'), UsageError)
})

Deno.test('the CLI exits 2 on a usage error and 0 on a read', async () => {
  assert.equal(await main(['safe-mode', 'sideways', '--reason', 'x']), 2)
  assert.equal(await main(['flags']), 0)
})

Deno.test('bad options are a usage error (exit 2), not a crash', async () => {
  assert.equal(await main(['flags', '--bogus']), 2)
  assert.equal(await main(['gc', '--reason']), 2)
  for (const n of ['', '0x10', '1e1', '2.5']) {
    assert.equal(await main(['dlq', 'list', '--limit', n]), 2, `--limit ${JSON.stringify(n)}`)
  }
  assert.equal(await main(['export', '--tables', ' , ']), 2)
})

Deno.test('with --json a failure is printed as JSON too', async () => {
  const out: unknown[] = []
  const log = console.log
  console.log = (line: unknown) => out.push(line)
  let code: number
  try {
    code = await main(['safe-mode', 'sideways', '--reason', 'x', '--json'])
  } finally {
    console.log = log
  }
  assert.equal(code, 2)
  assert.deepEqual(JSON.parse(out.join('\n')), {
    error: 'unknown command: safe-mode sideways',
    usage: true,
  })
})

Deno.test('gc needs a reason and leaves a ledger row', () =>
  withSql(async (sql) => {
    await assert.rejects(() => runMaintenance(sql, { actor: 'ops:test', reason: '' }), UsageError)
    await runMaintenance(sql, op)
    const [row] = await sql`
      select actor, reason from public.ai_action_ledger
       where action = 'ops.maintenance' order by id desc limit 1`
    assert.deepEqual({ ...row }, { actor: 'ops:test', reason: 'ops cli test' })
  }))
