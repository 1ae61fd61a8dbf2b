// `ops queue scale` and `ops queue dispatches` against the real test stack: the setting lands
// in ops.queue_parallelism and the ledger with the operator's name and reason, refusals change
// nothing, and the dispatcher's ticks read back through the view.
import assert from 'node:assert/strict'
import { main } from './cli.ts'
import { UsageError } from './connection.ts'
import { listDispatches, scaleQueue } from './queue.ts'
import { withSql } from './testing.ts'

const TOPIC = 't.ops.scale'
const op = { actor: 'ops:test', reason: 'discovery backlog over 300 s' }

Deno.test('queue scale sets max_parallel and ledgers who and why', () =>
  withSql(async (sql) => {
    await sql`select ops.schedule_queue_topic(${TOPIC}::text)`
    try {
      await assert.rejects(
        () => scaleQueue(sql, op, `${TOPIC}x`, 8),
        (err) =>
          err instanceof UsageError &&
          /no scheduled worker for topic t\.ops\.scalex/.test(err.message),
      )
      assert.deepEqual(await scaleQueue(sql, op, TOPIC, 8), {
        topic: TOPIC,
        max_parallel: 8,
        before: 4,
      })
      const [row] = await sql`select max_parallel from ops.queue_parallelism where topic = ${TOPIC}`
      assert.equal(row.max_parallel, 8)
      const [ledger] = await sql`
        select actor, reason, after ->> 'max_parallel' as after from public.ai_action_ledger
         where target = ${`ops.queue_parallelism:${TOPIC}`} order by id desc limit 1`
      assert.deepEqual([ledger.actor, ledger.reason, ledger.after], [op.actor, op.reason, '8'])

      await assert.rejects(
        () => scaleQueue(sql, op, TOPIC, 0),
        /p_max_parallel must be between 1 and 100/,
      )
      await assert.rejects(() => scaleQueue(sql, { ...op, reason: ' ' }, TOPIC, 2), UsageError)
      const [after] =
        await sql`select max_parallel from ops.queue_parallelism where topic = ${TOPIC}`
      assert.equal(after.max_parallel, 8, 'refused changes leave the setting as it was')
    } finally {
      await sql.begin(async (tx) => {
        await tx`select set_config('app.reason', 'test cleanup', true)`
        await tx`delete from ops.queue_parallelism where topic = ${TOPIC}`
      })
      await sql`select ops.unschedule_queue_topic(${TOPIC}::text)`
    }
  }))

Deno.test('queue dispatches lists the newest ticks, one topic or all', () =>
  withSql(async (sql) => {
    try {
      for (let i = 0; i < 3; i++) {
        await sql`select * from ops.dispatch_worker(
                    p_job_name => ${`queue-worker:${TOPIC}`}::text,
                    p_path => '/functions/v1/queue-worker',
                    p_body => ${JSON.stringify({ topic: TOPIC, limit: 10 })}::text::jsonb)`
      }
      const ticks = await listDispatches(sql, TOPIC, 2)
      assert.equal(ticks.length, 2)
      assert.deepEqual(Object.keys(ticks[0]), [
        'topic',
        'tick_at',
        'parallelism',
        'calls_issued',
        'calls_answered',
        'processed',
        'errors',
        'backlog_before',
        'backlog_after',
      ])
      assert.ok(ticks[0].tick_at >= ticks[1].tick_at, 'newest first')
      assert.ok(ticks.every((t) => t.topic === TOPIC && t.calls_issued === 0))
      assert.ok((await listDispatches(sql, null, 100)).some((t) => t.topic === TOPIC))
    } finally {
      await sql`delete from ops.queue_dispatch_ticks where topic = ${TOPIC}`
    }
  }))

Deno.test('the CLI needs a topic and an integer --max-parallel for queue scale', async () => {
  assert.equal(await main(['queue', 'scale', '--max-parallel', '2', '--reason', 'r']), 2)
  assert.equal(await main(['queue', 'scale', TOPIC, '--max-parallel', 'many', '--reason', 'r']), 2)
  assert.equal(await main(['queue', 'dispatches', TOPIC, '--limit', '1']), 0)
})
