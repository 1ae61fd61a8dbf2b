// Queue figures: throughput against a raw-SQL floor measured in the same run, the
// queue-worker's drain rate beside graphile-worker and a minimal floor, the drain with vacuum
// blocked, batch enqueue, and lease / health-view latency with a million done rows.
//
// The floor is pgbench (4 clients, extended protocol like postgres.js with prepare: false)
// running the claim statement of public.lease_events and the token-guarded mark-done of
// public.ack_events, inlined. Our figure is the same pgbench (same clients, protocol and
// transactions) calling the functions instead: `select … from public.lease_events(…)` and
// `select public.ack_events(…)`, so the ratio is the functions' own overhead. The same work
// driven from TypeScript (_shared/lease.ts over postgres.js, 4 workers on 4 connections) is an
// extra, informational figure: it adds the client's cost of parsing every leased row. Each
// figure is a median of 3. The peers, the minimal floor and the vacuum-blocked drain are in
// peers/compare.ts; batch enqueue in peers/batch_enqueue.ts.
//
// QUEUE_BENCH_PARTS (comma-separated; default all) runs a subset: `throughput`, `peers`,
// `enqueue`, `scale`.
import { eventsQueue } from '../supabase/functions/_shared/lease.ts'
import { createDb } from '../supabase/functions/_shared/db.ts'
import { type Bench, type BenchContext, type Figure, median, percentile, round } from './harness.ts'
import { batchEnqueueFigures } from './peers/batch_enqueue.ts'
import { MARK_CLAIMED_DONE } from './peers/floor.ts'
import { peerFigures } from './peers/compare.ts'
import { assertRanOnce, drainRun, enqueue, pgbenchRun, resetQueue } from './peers/queue_runs.ts'

const ROUNDS = 3
const WORKERS = 4

// The claim and mark-done statements of lease_events / ack_events (20261122010100), with the
// function's variables as pgbench variables and its token from gen_random_uuid() inline.
const FLOOR_SCRIPT = `
with params as (select gen_random_uuid() as token),
runnable_queued as (
  select q.id, q.priority, q.run_at from public.events_queue q
   where q.topic = :topic and q.status = 'queued' and q.run_at <= now()
   order by q.priority, q.run_at, q.id limit :batch for update skip locked),
runnable_expired as (
  select q.id, q.priority, q.run_at from public.events_queue q
   where q.topic = :topic and q.status = 'processing' and q.lease_expires_at < now()
   order by q.priority, q.run_at, q.id limit :batch for update skip locked),
candidates as (select * from runnable_queued union all select * from runnable_expired),
claimed as (
  update public.events_queue q
     set status = case when q.attempts >= q.max_attempts then 'error' else 'processing' end,
         attempts = case when q.attempts >= q.max_attempts then q.attempts else q.attempts + 1 end,
         lease_token = case when q.attempts >= q.max_attempts then null else p.token end,
         lease_expires_at = case when q.attempts >= q.max_attempts then null
                                 else now() + make_interval(secs => 60) end,
         leased_by = case when q.attempts >= q.max_attempts then q.leased_by else 'pgbench' end,
         last_error = case when q.attempts >= q.max_attempts
                           then 'lease expired on the final attempt (worker lost)'
                           else q.last_error end,
         updated_at = now()
    from params p
   where q.id in (select c.id from candidates c order by c.priority, c.run_at, c.id limit :batch)
  returning q.id, q.lease_token)
${MARK_CLAIMED_DONE}`

// The same transaction through the SQL API: what a worker on a pooled connection sends.
const FUNCTIONS_SCRIPT = `
select coalesce(array_agg(id)::text, '{}') as ids,
       coalesce(min(lease_token::text), '00000000-0000-0000-0000-000000000000') as tok
  from public.lease_events(:topic, :batch, 60, 'pgbench')
\\gset
select public.ack_events(:ids::bigint[], :tok::uuid);
`

/** 4 TypeScript workers on their own connections: lease_events + ack_events until empty. */
async function denoRun(ctx: BenchContext, topic: string, jobs: number, batch: number) {
  await enqueue(ctx, topic, jobs)
  const clients = Array.from({ length: WORKERS }, () => createDb(ctx.dbUrl, { max: 1 }))
  try {
    await Promise.all(clients.map((sql) => sql`select 1`)) // connect outside the timing
    const t0 = performance.now()
    await Promise.all(clients.map(async (sql) => {
      const queue = eventsQueue(sql, topic)
      for (;;) {
        const lease = await queue.lease({ limit: batch, ttlSeconds: 60 })
        if (lease.token === null) return
        await queue.ack(lease.rows.map((r) => r.id), lease.token)
      }
    }))
    const seconds = (performance.now() - t0) / 1000
    await assertRanOnce(ctx, topic, jobs, 'functions run')
    return jobs / seconds
  } finally {
    await Promise.all(clients.map((sql) => sql.end({ timeout: 0 })))
  }
}

async function timeMs(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  await fn()
  return performance.now() - t0
}

const pct = (part: number, whole: number) => `${round((100 * part) / whole, 1)} % of floor`

/** p50 and p95 of `fn`'s latency over `n` runs after `warmup` untimed ones. */
async function latency(fn: () => Promise<unknown>, n: number, warmup = 20) {
  for (let i = 0; i < warmup; i++) await fn()
  const times: number[] = []
  for (let i = 0; i < n; i++) times.push(await timeMs(fn))
  times.sort((a, b) => a - b)
  return { p50: percentile(times, 50), p95: percentile(times, 95) }
}

/** Floor vs functions (pgbench), the same from Deno, and the one-call-at-a-time drain. */
async function throughputFigures(ctx: BenchContext): Promise<Figure[]> {
  const figures: Figure[] = []
  const results = {
    floor100: [] as number[],
    fn100: [] as number[],
    deno100: [] as number[],
    floor1: [] as number[],
    fn1: [] as number[],
    drain: [] as number[],
  }
  const JOBS_100 = 20_000
  const JOBS_1 = 4_000
  for (let r = 1; r <= ROUNDS; r++) {
    ctx.log(`queue: round ${r}/${ROUNDS}`)
    // Floor and functions take turns going first, so neither always runs after the other's
    // dead rows (or during the autovacuum they set off).
    const pair = async (batch: number, jobs: number, floor: number[], fn: number[]) => {
      const runFloor = async () =>
        floor.push(await pgbenchRun(ctx, FLOOR_SCRIPT, `bench.floor${batch}.${r}`, jobs, batch))
      const runFn = async () =>
        fn.push(await pgbenchRun(ctx, FUNCTIONS_SCRIPT, `bench.fn${batch}.${r}`, jobs, batch))
      if (r % 2 === 1) {
        await runFloor()
        await runFn()
      } else {
        await runFn()
        await runFloor()
      }
    }
    await pair(100, JOBS_100, results.floor100, results.fn100)
    results.deno100.push(await denoRun(ctx, `bench.deno100.${r}`, JOBS_100, 100))
    await pair(1, JOBS_1, results.floor1, results.fn1)
    const drain = await drainRun(ctx, 20_000, { callers: 1 })
    results.drain.push(drain.rate)
    ctx.log(
      `queue: drain took ${drain.calls} calls, ${
        round(100 * drain.inFunctionShare)
      } % of the time inside drainQueue`,
    )
    await resetQueue(ctx)
  }
  const floor100 = median(results.floor100)
  const fn100 = median(results.fn100)
  const deno100 = median(results.deno100)
  const floor1 = median(results.floor1)
  const fn1 = median(results.fn1)
  const drain = median(results.drain)
  figures.push(
    {
      name: 'queue floor: pgbench claim+ack, batch 100, 4 clients',
      value: Math.round(floor100),
      unit: 'jobs/s',
      target: 'info',
      ok: true,
      note: 'reference ~28,000 on 2 cores',
    },
    {
      name: 'queue pgbench lease_events+ack_events, batch 100, 4 clients',
      value: Math.round(fn100),
      unit: 'jobs/s',
      target: '>= 80 % of floor',
      ok: fn100 >= 0.8 * floor100,
      note: pct(fn100, floor100),
    },
    {
      name: 'queue same from Deno (postgres.js), batch 100, 4 workers',
      value: Math.round(deno100),
      unit: 'jobs/s',
      target: 'info',
      ok: true,
      note: `${pct(deno100, floor100)}; adds parsing every leased row in JS`,
    },
    {
      name: 'queue floor: pgbench claim+ack, batch 1, 4 clients',
      value: Math.round(floor1),
      unit: 'jobs/s',
      target: 'info',
      ok: true,
      note: 'reference ~2,000 on 2 cores; two durable commits per job',
    },
    {
      name: 'queue pgbench lease_events+ack_events, batch 1, 4 clients',
      value: Math.round(fn1),
      unit: 'jobs/s',
      target: '>= 70 % of floor',
      ok: fn1 >= 0.7 * floor1,
      note: pct(fn1, floor1),
    },
    {
      name: 'queue-worker drain of 20,000 no-op jobs via gateway',
      value: Math.round(drain),
      unit: 'jobs/s',
      target: '>= 15,000',
      ok: drain >= 15_000,
      note: `${
        pct(drain, floor100).replace('floor', 'batch-100 floor')
      }; 20 calls of limit 1000 (the body caps limit at 1000)`,
    },
  )
  return figures
}

/** Lease and health-view latency with 1,000,000 done rows and 100,000 queued, in both queues. */
async function scaleFigures(ctx: BenchContext): Promise<Figure[]> {
  const figures: Figure[] = []
  ctx.log('queue: loading 1,000,000 done + 100,000 queued rows into each queue')
  await enqueue(ctx, 'bench.big', 1_000_000, 'done')
  await enqueue(ctx, 'bench.big', 100_000)
  const [{ id: userId }] = await ctx.sql<{ id: string }[]>`
      insert into auth.users (id, email) values (gen_random_uuid(), 'queue-bench@example.test')
      returning id`
  await ctx.sql`
      insert into public.marketplace_discovery_queue (interest_id, user_id, status)
      select gen_random_uuid(), ${userId}, case when g <= 1000000 then 'done' else 'queued' end
        from generate_series(1, 1100000) g`
  await ctx.sql`vacuum analyze public.events_queue`
  await ctx.sql`vacuum analyze public.marketplace_discovery_queue`
  // Finish the checkpoint the bulk load set off, so its writes and fsyncs are not timed as
  // lease latency (a table that grew to this size over days has no such backlog).
  await ctx.sql`checkpoint`
  // What any durable write pays at commit on this cluster (WAL flush, fsync on), for scale:
  // a one-row update of a table of its own. `select 1` commits without a WAL flush.
  await ctx.sql`create table public.bench_commit_probe (id int primary key, n bigint not null)`
  await ctx.sql`insert into public.bench_commit_probe values (1, 0)`

  const client = createDb(ctx.dbUrl, { max: 1 })
  try {
    const queue = eventsQueue(client, 'bench.big')
    const leaseTimes: number[] = []
    for (let i = 0; i < 20; i++) await queue.lease({ limit: 100, ttlSeconds: 60 }) // warm-up
    for (let i = 0; i < 300; i++) {
      let lease: Awaited<ReturnType<typeof queue.lease>> | undefined
      leaseTimes.push(
        await timeMs(async () => {
          lease = await queue.lease({ limit: 100, ttlSeconds: 60 })
        }),
      )
      if (lease?.token) await queue.ack(lease.rows.map((r) => r.id), lease.token)
    }
    leaseTimes.sort((a, b) => a - b)
    const p95 = percentile(leaseTimes, 95)
    const commit = await latency(
      () => client`update public.bench_commit_probe set n = n + 1 where id = 1`,
      300,
    )
    const select1 = await latency(() => client`select 1`, 300)
    figures.push(
      {
        name: 'queue lease_events(100) p95, 1M done + 100k queued',
        value: round(p95),
        unit: 'ms',
        target: '< 10 ms',
        ok: p95 < 10,
        note: `p50 ${round(percentile(leaseTimes, 50))} ms`,
      },
      {
        name: 'queue baseline: durable 1-row update commit p95',
        value: round(commit.p95),
        unit: 'ms',
        target: 'info',
        ok: true,
        note: `p50 ${round(commit.p50)} ms; the WAL flush every lease also pays`,
      },
      {
        name: 'queue baseline: select 1 round trip p95',
        value: round(select1.p95),
        unit: 'ms',
        target: 'info',
        ok: true,
        note: `p50 ${round(select1.p50)} ms; read-only, no WAL flush`,
      },
    )
    for (
      const view of [
        'vw_events_queue_health',
        'vw_discovery_queue_health',
        'vw_dead_letter_queue',
      ]
    ) {
      const times: number[] = []
      for (let i = 0; i < 3; i++) await client.unsafe(`select * from public.${view}`)
      for (let i = 0; i < 20; i++) {
        times.push(await timeMs(() => client.unsafe(`select * from public.${view}`)))
      }
      const m = median(times)
      figures.push({
        name: `queue ${view} median, 1M done + 100k queued`,
        value: round(m),
        unit: 'ms',
        target: '< 50 ms',
        ok: m < 50,
      })
    }
  } finally {
    await client.end({ timeout: 0 })
    await ctx.sql`drop table if exists public.bench_commit_probe`
    await ctx.sql`delete from public.marketplace_discovery_queue where user_id = ${userId}`
    await ctx.sql`delete from auth.users where id = ${userId}`
    await ctx.sql`truncate public.events_queue`
  }
  return figures
}

const PARTS = ['throughput', 'peers', 'enqueue', 'scale'] as const

/** The parts QUEUE_BENCH_PARTS names (all when unset); an unknown name is an error. */
function selectedParts(): Set<string> {
  const raw = Deno.env.get('QUEUE_BENCH_PARTS')?.trim()
  if (!raw) return new Set(PARTS)
  const names = raw.split(',').map((p) => p.trim())
  const unknown = names.filter((n) => !(PARTS as readonly string[]).includes(n))
  if (unknown.length) {
    throw new Error(`QUEUE_BENCH_PARTS: unknown ${unknown.join(', ')} (known: ${PARTS.join(', ')})`)
  }
  return new Set(names)
}

export const bench: Bench = {
  name: 'queue',
  async run(ctx) {
    const parts = selectedParts()
    const run: Record<(typeof PARTS)[number], () => Promise<Figure[]>> = {
      throughput: () => throughputFigures(ctx),
      peers: () => peerFigures(ctx, ROUNDS),
      enqueue: () => batchEnqueueFigures(ctx),
      scale: () => scaleFigures(ctx),
    }
    // Other work on the machine moves every figure here; the load is printed with them.
    const loadAtStart = Deno.loadavg()[0]
    const figures: Figure[] = []
    for (const part of PARTS.filter((p) => parts.has(p))) {
      const t0 = performance.now()
      figures.push(...await run[part]())
      ctx.log(`queue: ${part} took ${Math.round((performance.now() - t0) / 1000)} s`)
    }
    figures.push({
      name: 'queue bench: load average (1 min) at start',
      value: round(loadAtStart, 1),
      unit: '',
      target: 'info',
      ok: true,
      note: `${round(Deno.loadavg()[0], 1)} at the end; ${navigator.hardwareConcurrency} CPUs`,
    })
    return figures
  },
}
