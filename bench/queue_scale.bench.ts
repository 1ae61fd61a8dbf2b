// Fan-out: a 200,000-job backlog of no-op jobs drained through cron-style ticks that the bench
// drives itself (no waiting for the minute): each tick runs the topic's cron command verbatim
// (ops.dispatch_worker), waits for pg_net's answer to every call it posted, and ticks again
// until a tick posts none. Jobs/s with max_parallel 1, 2 and 4, side by side, and the check
// that every job was done exactly once. `deno task bench queue` runs it after queue.bench.ts.
import type { Bench, BenchContext, Figure } from './harness.ts'
import { round } from './harness.ts'

const TOPIC = 'ops.noop'
const JOB = `queue-worker:${TOPIC}`
const JOBS = 200_000
// The most jobs queue-worker's body accepts per call.
const CALL_LIMIT = 1000
const PARALLELISM = [1, 2, 4] as const
// How often a tick's answers are looked for: short next to a 1,000-job call (~70 ms).
const POLL_MS = 5

interface Run {
  parallel: number
  jobsPerSecond: number
  ticks: number
  calls: number
  /** Mean time a call spent draining (its own duration_ms), ms. */
  meanCallMs: number
  /** Mean wall time per tick, from posting its calls to the last answer, ms. */
  tickMs: number
}

async function arrange(ctx: BenchContext, parallel: number) {
  await ctx.sql`delete from public.events_queue where topic = ${TOPIC}`
  await ctx.sql`delete from ops.queue_dispatch_ticks where topic = ${TOPIC}`
  await ctx.sql.begin(async (tx) => {
    await tx`select set_config('app.actor', 'bench', true),
                    set_config('app.reason', 'queue_scale bench', true)`
    await tx`select ops.schedule_queue_topic(${TOPIC}::text, p_batch_limit => ${CALL_LIMIT}::int)`
    // The bench ticks the job itself; pg_cron must not tick it as well.
    await tx`update cron.job set active = false where jobname = ${JOB}`
    await tx`select ops.set_queue_parallelism(p_topic => ${TOPIC}::text,
                                              p_max_parallel => ${parallel}::int)`
  })
  await ctx.sql`
    insert into public.events_queue (topic, payload)
    select ${TOPIC}, '{}' from generate_series(1, ${JOBS}::int)`
  await ctx.sql`vacuum analyze public.events_queue`
  await ctx.sql`checkpoint`
}

async function drain(ctx: BenchContext, parallel: number): Promise<Run> {
  const [{ command }] = await ctx.sql<{ command: string }[]>`
    select command from cron.job where jobname = ${JOB}`
  let ticks = 0
  let calls = 0
  const t0 = performance.now()
  for (;;) {
    const ids = (await ctx.sql.unsafe<{ request_id: string }[]>(command)).map((r) => r.request_id)
    if (ids.length === 0) break
    ticks++
    calls += ids.length
    for (;;) {
      const [{ answered, failed }] = await ctx.sql<{ answered: number; failed: number }[]>`
        select count(*)::int as answered,
               count(*) filter (where status_code is distinct from 200)::int as failed
          from net._http_response where id in ${ctx.sql(ids)}`
      if (failed > 0) throw new Error(`tick ${ticks}: ${failed} of ${ids.length} calls failed`)
      if (answered === ids.length) break
      await new Promise((r) => setTimeout(r, POLL_MS))
    }
  }
  const seconds = (performance.now() - t0) / 1000
  const [check] = await ctx.sql<{ done_once: number; other: number }[]>`
    select count(*) filter (where status = 'done' and attempts = 1)::int as done_once,
           count(*) filter (where not (status = 'done' and attempts = 1))::int as other
      from public.events_queue where topic = ${TOPIC}`
  if (check.done_once !== JOBS || check.other !== 0) {
    throw new Error(
      `max_parallel ${parallel}: ${check.done_once} of ${JOBS} done exactly once, ` +
        `${check.other} not`,
    )
  }
  const [{ mean }] = await ctx.sql<{ mean: number }[]>`
    select coalesce(avg(duration_ms), 0)::float8 as mean from ops.queue_dispatch_calls
     where topic = ${TOPIC} and answered_at is not null`
  return {
    parallel,
    jobsPerSecond: JOBS / seconds,
    ticks,
    calls,
    meanCallMs: mean,
    tickMs: (seconds * 1000) / ticks,
  }
}

async function cleanUp(ctx: BenchContext) {
  await ctx.sql`select ops.unschedule_queue_topic(${TOPIC}::text)`
  await ctx.sql`delete from public.events_queue where topic = ${TOPIC}`
  await ctx.sql`delete from ops.queue_dispatch_ticks where topic = ${TOPIC}`
  await ctx.sql.begin(async (tx) => {
    await tx`select set_config('app.reason', 'queue_scale bench cleanup', true)`
    await tx`delete from ops.queue_parallelism where topic = ${TOPIC}`
  })
}

export const bench: Bench = {
  name: 'queue_scale',
  async run(ctx) {
    const runs: Run[] = []
    try {
      for (const parallel of PARALLELISM) {
        ctx.log(`queue_scale: ${JOBS} jobs, max_parallel ${parallel}`)
        await arrange(ctx, parallel)
        const run = await drain(ctx, parallel)
        ctx.log(
          `queue_scale: max_parallel ${parallel}: ${Math.round(run.jobsPerSecond)} jobs/s, ` +
            `${run.ticks} ticks, ${run.calls} calls, ${round(run.meanCallMs)} ms per call`,
        )
        runs.push(run)
      }
    } finally {
      await cleanUp(ctx)
    }
    const base = runs[0].jobsPerSecond
    return runs.map((run): Figure => ({
      name: `queue_scale drain of 200,000 no-op jobs by cron ticks, max_parallel ${run.parallel}`,
      value: Math.round(run.jobsPerSecond),
      unit: 'jobs/s',
      target: 'info',
      ok: true,
      // Where scaling stops shows in the last two: a tick's fixed cost (dispatch, pg_net, the
      // gateway) is shared by more jobs, but each call drains slower as calls share the CPU.
      note: `×${round(run.jobsPerSecond / base)} of max_parallel 1; ${run.ticks} ticks of ` +
        `${run.calls / run.ticks} calls, ${Math.round(run.tickMs)} ms per tick, ` +
        `${Math.round(run.meanCallMs)} ms draining per call; every job done once`,
    }))
  },
}
