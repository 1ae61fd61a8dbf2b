// Timed runs over public.events_queue shared by the queue benches: filling a topic, checking
// that every job ran exactly once, pgbench scripts over a topic, and queue-worker drains.
import { type BenchContext, pgbench } from '../harness.ts'

/** The topic with a built-in no-op handler in queue-worker (registry.ts). */
export const NOOP_TOPIC = 'ops.noop'

export async function enqueue(ctx: BenchContext, topic: string, n: number, status = 'queued') {
  await ctx.sql`
    insert into public.events_queue (topic, payload, status)
    select ${topic}, '{}', ${status} from generate_series(1, ${n}::int)`
}

/**
 * Throws unless all `jobs` rows of `topic` are done after exactly one lease each: a job leased
 * twice (a lost or stolen lease) shows as attempts > 1, one never acked as another status.
 */
export async function assertRanOnce(ctx: BenchContext, topic: string, jobs: number, who: string) {
  const [row] = await ctx.sql<{ total: number; once: number }[]>`
    select count(*)::int as total,
           (count(*) filter (where status = 'done' and attempts = 1))::int as once
      from public.events_queue where topic = ${topic}`
  if (row.total !== jobs || row.once !== jobs) {
    throw new Error(
      `${who}: ${row.once} of ${jobs} jobs done after exactly one lease (${row.total} rows)`,
    )
  }
}

/** Clean start for a timed run: earlier runs' rows gone, and their dead versions vacuumed. */
export async function resetQueue(ctx: BenchContext) {
  await ctx.sql`delete from public.events_queue where topic like 'bench.%' or topic = ${NOOP_TOPIC}`
  await ctx.sql`vacuum public.events_queue`
}

/**
 * pgbench running `script` with 4 clients over `jobs` queued rows of `topic` (pgbench variables
 * :topic and :batch); jobs/s from its tps (connection time excluded).
 */
export async function pgbenchRun(
  ctx: BenchContext,
  script: string,
  topic: string,
  jobs: number,
  batch: number,
  protocol: 'extended' | 'prepared' = 'extended',
) {
  const clients = 4
  await enqueue(ctx, topic, jobs)
  // 10 % more transactions than full batches need: SKIP LOCKED makes some leases short.
  const { tps, transactions } = await pgbench(ctx, script, {
    clients,
    protocol,
    transactionsPerClient: Math.ceil((jobs / batch / clients) * 1.1),
    vars: { topic, batch: String(batch) },
  })
  await assertRanOnce(ctx, topic, jobs, `pgbench (${topic})`)
  return jobs / (transactions / tps)
}

export interface DrainResult {
  /** Jobs per second, from the first call sent to the last answer. */
  rate: number
  calls: number
  /** Share of the wall time the calls spent inside drainQueue (summed over callers). */
  inFunctionShare: number
}

/**
 * `callers` concurrent loops POSTing queue-worker (ops.noop, limit 1000: the most its body
 * accepts) until each gets an empty answer, over `jobs` freshly queued no-op jobs. With
 * `holdSnapshot`, a separate session keeps a REPEATABLE READ snapshot open from before the
 * first call to after the last, so vacuum (and index-entry pruning) cannot remove any row
 * version the drain leaves behind.
 */
export async function drainRun(
  ctx: BenchContext,
  jobs: number,
  opts: { callers: number; holdSnapshot?: boolean },
): Promise<DrainResult> {
  await enqueue(ctx, NOOP_TOPIC, jobs)
  const holder = opts.holdSnapshot ? await ctx.sql.reserve() : null
  try {
    if (holder) {
      await holder`begin isolation level repeatable read`
      await holder`select count(*) from public.events_queue where topic = ${NOOP_TOPIC}`
      const [{ xmin }] = await holder<{ xmin: string | null }[]>`
        select backend_xmin::text as xmin from pg_stat_activity where pid = pg_backend_pid()`
      if (xmin === null) throw new Error('the held snapshot has no xmin')
    }
    let processed = 0
    let calls = 0
    let inFunctionMs = 0
    const t0 = performance.now()
    await Promise.all(Array.from({ length: opts.callers }, async () => {
      for (;;) {
        const res = await fetch(`${ctx.apiUrl}/functions/v1/queue-worker`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${ctx.serviceRoleKey}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify({ topic: NOOP_TOPIC, limit: 1000, ttl: 60 }),
        })
        const body = await res.json()
        if (res.status !== 200) {
          throw new Error(`queue-worker answered ${res.status}: ${JSON.stringify(body)}`)
        }
        calls++
        inFunctionMs += body.duration_ms
        if (body.processed === 0) return
        processed += body.processed
      }
    }))
    const seconds = (performance.now() - t0) / 1000
    if (processed !== jobs) throw new Error(`queue-worker drained ${processed} of ${jobs}`)
    await assertRanOnce(ctx, NOOP_TOPIC, jobs, 'queue-worker')
    return { rate: processed / seconds, calls, inFunctionShare: inFunctionMs / 1000 / seconds }
  } finally {
    if (holder) {
      await holder`rollback`
      holder.release()
    }
  }
}
