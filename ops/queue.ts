// Queue runbook commands: health views, requeueing expired leases, the dead-letter queue, and
// the maintenance GC. Each calls the SQL the runbooks name, so the CLI and the SQL editor agree.
import { asOperator, type Operator, type Sql, UsageError } from './connection.ts'

export const QUEUES = ['events_queue', 'marketplace_discovery_queue'] as const
export type QueueName = typeof QUEUES[number]

export function parseQueue(name: string | undefined): QueueName {
  const full = name === 'events'
    ? 'events_queue'
    : name === 'discovery'
    ? 'marketplace_discovery_queue'
    : name
  if (!QUEUES.includes(full as QueueName)) {
    throw new UsageError(`queue must be one of: events, discovery (got ${name ?? 'nothing'})`)
  }
  return full as QueueName
}

export async function queueHealth(sql: Sql) {
  const events = await sql`select * from public.vw_events_queue_health order by topic, status`
  const discovery = await sql`select * from public.vw_discovery_queue_health order by status`
  return { events: [...events], discovery: [...discovery] }
}

export async function requeueExpired(sql: Sql, op: Operator): Promise<number> {
  return await asOperator(sql, op, async (tx) => {
    const [{ n }] = await tx`select public.requeue_expired_leases() as n`
    await tx`select public.record_ai_action('queue.requeue_expired_leases', 'queues',
                                            null, jsonb_build_object('requeued', ${n}::int))`
    return Number(n)
  })
}

export async function listDeadLetters(sql: Sql, limit: number) {
  return [
    ...await sql`select * from public.vw_dead_letter_queue
                        order by failed_at desc nulls last limit ${limit}`,
  ]
}

export async function redriveDeadLetters(
  sql: Sql,
  op: Operator,
  queue: QueueName,
  ids: number[] | null,
): Promise<number> {
  return await asOperator(sql, op, async (tx) => {
    const [{ n }] = await tx`
      select ops.redrive_dead_letters(p_queue => ${queue}::text,
                                      p_ids => ${ids}::bigint[]) as n`
    return Number(n)
  })
}

export async function purgeDeadLetters(
  sql: Sql,
  op: Operator,
  queue: QueueName,
  olderThan: string,
): Promise<number> {
  return await asOperator(sql, op, async (tx) => {
    const [{ n }] = await tx`
      select ops.purge_dead_letters(p_queue => ${queue}::text,
                                    p_older_than => ${olderThan}::interval) as n`
    return Number(n)
  })
}

export interface MaintenanceResult {
  learningEventsDeleted: number
  intentSignalsDeleted: number
}

/**
 * The daily jobs, on demand: expired leases, old done rows, old rate-limit windows, and the
 * learning log's and intent signals' retention. Returns how many learning rows went.
 */
export async function runMaintenance(sql: Sql, op: Operator): Promise<MaintenanceResult> {
  if (!op.reason.trim()) throw new UsageError('--reason is required for every change')
  // A procedure that commits between batches must be called outside a transaction block, so
  // the ledger row is written on its own, first: it records the intent even if a batch fails.
  await asOperator(
    sql,
    op,
    (tx) =>
      tx`select public.record_ai_action('ops.maintenance',
                                        'queues, rate_limits, learning_events, intent_signals')`,
  )
  await sql`call ops.run_queue_maintenance()`
  await sql`select ops.gc_rate_limits()`
  // The learning GCs ledger their own deletions; running them as the operator names who did.
  const learning = await asOperator(sql, op, async (tx) => {
    const [{ n }] = await tx`select public.gc_learning_events() as n`
    return Number(n)
  })
  const signals = await asOperator(sql, op, async (tx) => {
    const [{ n }] = await tx`select public.gc_intent_signals() as n`
    return Number(n)
  })
  return { learningEventsDeleted: learning, intentSignalsDeleted: signals }
}

/**
 * `queue scale`: sets a topic's max_parallel (ops.set_queue_parallelism, ledgered as the
 * operator). The discovery queue's topic is `marketplace_discovery_queue`. Returns the value it
 * replaced (the default when the topic had none).
 */
export async function scaleQueue(
  sql: Sql,
  op: Operator,
  topic: string,
  maxParallel: number,
): Promise<{ topic: string; max_parallel: number; before: number }> {
  return await asOperator(sql, op, async (tx) => {
    // A misspelt topic would be stored and scale nothing: only a scheduled worker's topic is taken.
    const [{ scheduled, topics }] = await tx<{ scheduled: boolean; topics: string[] }[]>`
      select ${topic}::text = 'marketplace_discovery_queue'
             or exists (select 1 from cron.job where jobname = 'queue-worker:' || ${topic}::text)
               as scheduled,
             array(select substr(jobname, length('queue-worker:') + 1) from cron.job
                    where jobname like 'queue-worker:%' order by 1) as topics`
    if (!scheduled) {
      throw new UsageError(
        `no scheduled worker for topic ${topic} (scheduled: marketplace_discovery_queue, ` +
          `${topics.join(', ')}); schedule it first with ops.schedule_queue_topic`,
      )
    }
    const [{ before }] = await tx`
      select ops.set_queue_parallelism(p_topic => ${topic}::text,
                                       p_max_parallel => ${maxParallel}::int) as before`
    return { topic, max_parallel: maxParallel, before: Number(before) }
  })
}

/** `queue dispatches`: the newest dispatcher ticks (public.vw_queue_dispatches), one topic or all. */
export async function listDispatches(sql: Sql, topic: string | null, limit: number) {
  return [
    ...await sql`
      select * from public.vw_queue_dispatches
       where ${topic}::text is null or topic = ${topic}::text
       order by tick_at desc limit ${limit}`,
  ]
}
