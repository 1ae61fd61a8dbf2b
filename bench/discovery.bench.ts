// Discovery figures, with 100,000 users, 1,000,000 user_interests and 100,000 candidates:
// marketplace_suggestions_for_user p95 (as the signed-in user, under RLS),
// enqueue_discovery_for_user p95, and rocker-discovery-run throughput through the gateway. Five
// rounds; each figure is the median of the rounds (on a shared 2-vCPU machine a neighbour's burst
// can spoil one round).
import type postgres from 'postgres'
import { type Bench, type Figure, median, percentile, round } from './harness.ts'

const USERS = 100_000
const INTERESTS_PER_USER = 10 // → 1,000,000 user_interests
const INTERESTS = 1_000
const CANDIDATES = 100_000
// Candidates go to the first 900 categories only (~111 each): the last 100 are empty, so a run
// opens gaps for them, as in a real marketplace with thin corners.
const STOCKED_CATEGORIES = 900
const ROUNDS = 5
const CALLS_PER_ROUND = 1_000 // suggestions and enqueue calls per round
const RUN_LIMIT = 1_000 // items per rocker-discovery-run request

// Deterministic ids from a name, so the load needs no lookup tables.
const BENCH_USER = (n: number | string) => `md5('bench-user-' || ${n})::uuid`

async function load(sql: postgres.Sql, log: (line: string) => void) {
  log(`discovery: loading ${INTERESTS} interests/categories and ${CANDIDATES} candidates`)
  await sql.unsafe(`
    insert into public.interest_catalog (id, slug, name)
    select md5('bench-interest-' || n)::uuid, 'bench-interest-' || n, 'Bench interest ' || n
    from generate_series(1, ${INTERESTS}) n;
    insert into public.marketplace_categories (id, slug, name)
    select md5('bench-category-' || n)::uuid, 'bench-category-' || n, 'Bench category ' || n
    from generate_series(1, ${INTERESTS}) n;
    insert into public.marketplace_interest_map (interest_id, category_id)
    select md5('bench-interest-' || n)::uuid, md5('bench-category-' || n)::uuid
    from generate_series(1, ${INTERESTS}) n;
    insert into public.marketplace_candidates (category_id, title, popularity, created_at)
    select md5('bench-category-' || (n % ${STOCKED_CATEGORIES} + 1))::uuid,
           'Bench candidate ' || n, random() * 100,
           now() - random() * interval '90 days'
    from generate_series(1, ${CANDIDATES}) n;`)

  // session_replication_role = replica skips triggers for this transaction only: the signup
  // trigger would queue 100,000 discovery.user-signup jobs that are not what is measured here
  // (and that the queue bench may not expect). auth.users has no foreign keys of its own, so
  // nothing else is skipped.
  log(`discovery: loading ${USERS} users (signup trigger bypassed)`)
  await sql.begin(async (tx) => {
    await tx.unsafe('set local session_replication_role = replica')
    await tx.unsafe(`
      insert into auth.users (id, email, created_at, email_confirmed_at)
      select ${BENCH_USER('n')}, 'bench-user-' || n || '@example.test', now(), now()
      from generate_series(1, ${USERS}) n`)
  })

  // Ten distinct interests per user: (n + 100 k) mod 1000 for k = 0…9. Foreign keys are checked.
  // The interest trigger (discovery_on_user_interests_inserted) is disabled for this transaction
  // only: it would queue 1,000,000 discovery items, and the rounds measure
  // enqueue_discovery_for_user queueing each user's 10 items and the run draining exactly those.
  // ALTER TABLE … DISABLE TRIGGER is transactional and, unlike session_replication_role =
  // replica, leaves the foreign-key checks on.
  log(`discovery: loading ${USERS * INTERESTS_PER_USER} user_interests (interest trigger off)`)
  await sql.begin(async (tx) => {
    await tx.unsafe(`
      alter table public.user_interests disable trigger discovery_on_user_interests_inserted`)
    await tx.unsafe(`
      insert into public.user_interests (user_id, interest_id, affinity)
      select ${BENCH_USER('u')},
             md5('bench-interest-' || ((u + 100 * k) % ${INTERESTS} + 1))::uuid,
             round((0.1 + random() * 0.9)::numeric, 2)
      from generate_series(1, ${USERS}) u, generate_series(0, ${INTERESTS_PER_USER - 1}) k;`)
    await tx.unsafe(`
      alter table public.user_interests enable trigger discovery_on_user_interests_inserted`)
  })
  // Fresh statistics and a visibility map, as autovacuum would leave a table of this age.
  // One statement per call: VACUUM cannot run inside the implicit transaction of a multi-statement
  // query.
  for (
    const table of [
      'public.user_interests',
      'public.marketplace_candidates',
      'public.marketplace_interest_map',
      'public.interest_catalog',
      'auth.users',
    ]
  ) {
    await sql.unsafe(`vacuum analyze ${table}`)
  }
  // The load wrote ~1 GB of WAL; without this the first round would pay for its checkpoint.
  await sql.unsafe('checkpoint')
}

async function cleanUp(sql: postgres.Sql, log: (line: string) => void) {
  log('discovery: removing the bench data')
  await sql.unsafe(`
    delete from public.marketplace_discovery_queue q
     where q.user_id in (select ${BENCH_USER('n')} from generate_series(1, ${USERS}) n);
    delete from public.user_interests ui
     where ui.user_id in (select ${BENCH_USER('n')} from generate_series(1, ${USERS}) n);
    delete from auth.users u
     where u.id in (select ${BENCH_USER('n')} from generate_series(1, ${USERS}) n);
    delete from public.marketplace_gaps g
     where g.interest_id in (select id from public.interest_catalog
                              where slug like 'bench-interest-%');
    delete from public.marketplace_candidates where title like 'Bench candidate %';
    delete from public.interest_catalog where slug like 'bench-interest-%';
    delete from public.marketplace_categories where slug like 'bench-category-%';`)
}

/** Distinct user numbers for one round, spread over the whole population. */
function usersForRound(roundIndex: number): number[] {
  const stride = Math.floor(USERS / (CALLS_PER_ROUND * ROUNDS))
  return Array.from(
    { length: CALLS_PER_ROUND },
    (_, i) => (roundIndex * CALLS_PER_ROUND + i) * stride + 1,
  )
}

async function userIds(sql: postgres.Sql, ns: number[]): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    select md5('bench-user-' || n)::uuid::text as id
    from unnest(${sql.array(ns)}::int[]) with ordinality as t(n, ord) order by ord`
  return rows.map((r) => r.id)
}

interface Latency {
  p50: number
  p95: number
}

const latency = (times: number[]): Latency => {
  const sorted = [...times].sort((a, b) => a - b)
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95) }
}

/** The suggestions call as the user itself (role authenticated, their claims, RLS on). */
async function suggestionsLatency(sql: postgres.Sql, ids: string[]): Promise<Latency> {
  const times: number[] = []
  for (const id of ids) {
    await sql.begin(async (tx) => {
      const claims = JSON.stringify({ sub: id, role: 'authenticated' })
      await tx`select set_config('role', 'authenticated', true),
                      set_config('request.jwt.claims', ${claims}, true)`
      const t0 = performance.now()
      const rows = await tx`
        select * from public.marketplace_suggestions_for_user(${id}::uuid, 12)`
      times.push(performance.now() - t0)
      if (rows.length !== 12) throw new Error(`expected 12 suggestions, got ${rows.length}`)
    })
  }
  return latency(times)
}

/** enqueue_discovery_for_user as the queue-worker's handler calls it (one statement, autocommit). */
async function enqueueLatency(sql: postgres.Sql, ids: string[]): Promise<Latency> {
  const times: number[] = []
  for (const id of ids) {
    const t0 = performance.now()
    const [{ n }] = await sql<{ n: number }[]>`
      select public.enqueue_discovery_for_user(p_user_id => ${id}::uuid) as n`
    times.push(performance.now() - t0)
    if (n !== INTERESTS_PER_USER) throw new Error(`expected ${INTERESTS_PER_USER} items, got ${n}`)
  }
  return latency(times)
}

/**
 * The floor under enqueue's latency on this machine: a one-row insert and its commit (the WAL
 * flush), issued the same way. Printed beside the enqueue figure so a noisy disk is visible.
 */
async function commitFloor(sql: postgres.Sql, calls: number): Promise<Latency> {
  const times: number[] = []
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now()
    await sql`insert into public.bench_commit_floor (n) values (${i})`
    times.push(performance.now() - t0)
  }
  return latency(times)
}

/** Drains the discovery queue through the gateway; returns items per second. */
async function drainRate(apiUrl: string, key: string, expected: number): Promise<number> {
  let processed = 0
  const t0 = performance.now()
  while (processed < expected) {
    const res = await fetch(`${apiUrl}/functions/v1/rocker-discovery-run`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ limit: RUN_LIMIT, ttl: 120 }),
    })
    const body = await res.json()
    if (res.status !== 200) throw new Error(`rocker-discovery-run: ${JSON.stringify(body)}`)
    if (body.errors > 0) throw new Error(`rocker-discovery-run errors: ${JSON.stringify(body)}`)
    if (body.processed === 0) break
    processed += body.processed
  }
  const seconds = (performance.now() - t0) / 1000
  if (processed < expected) throw new Error(`drained ${processed} of ${expected} items`)
  return processed / seconds
}

export const bench: Bench = {
  name: 'discovery',
  async run(ctx) {
    const { sql, log } = ctx
    const started = performance.now()
    await load(sql, log)
    log(`discovery: loaded in ${round((performance.now() - started) / 1000, 1)} s`)

    const suggestions: Latency[] = []
    const enqueue: Latency[] = []
    const rates: number[] = []
    const floor: Latency[] = []
    await sql.unsafe(`
      create table public.bench_commit_floor (n int);
      alter table public.bench_commit_floor enable row level security;`)
    try {
      // Warm the plans and caches once, on users no round uses.
      const warm = await userIds(sql, Array.from({ length: 100 }, (_, i) => USERS - i))
      await suggestionsLatency(sql, warm)

      for (let r = 0; r < ROUNDS; r++) {
        const ids = await userIds(sql, usersForRound(r))
        suggestions.push(await suggestionsLatency(sql, ids))
        floor.push(await commitFloor(sql, CALLS_PER_ROUND))
        enqueue.push(await enqueueLatency(sql, ids))
        rates.push(await drainRate(ctx.apiUrl, ctx.serviceRoleKey, ids.length * INTERESTS_PER_USER))
        log(
          `discovery: round ${r + 1}: suggestions p50/p95 ${round(suggestions[r].p50)}/` +
            `${round(suggestions[r].p95)} ms, enqueue p50/p95 ${round(enqueue[r].p50)}/` +
            `${round(enqueue[r].p95)} ms (1-row commit ${round(floor[r].p50)}/` +
            `${round(floor[r].p95)} ms), run ${Math.round(rates[r])} items/s`,
        )
      }
    } finally {
      await sql.unsafe('drop table if exists public.bench_commit_floor')
      await cleanUp(sql, log)
    }

    const data = `${USERS / 1000}k users, ${USERS * INTERESTS_PER_USER / 1e6}M interests, ` +
      `${CANDIDATES / 1000}k candidates`
    const sugP95 = median(suggestions.map((l) => l.p95))
    const enqP95 = median(enqueue.map((l) => l.p95))
    const figures: Figure[] = [
      {
        name: `marketplace_suggestions_for_user p50 (as the user, ${data})`,
        value: round(median(suggestions.map((l) => l.p50))),
        unit: 'ms',
        target: 'info',
        ok: true,
      },
      {
        name: `marketplace_suggestions_for_user p95 (as the user, ${data})`,
        value: round(sugP95),
        unit: 'ms',
        target: '< 10 ms',
        ok: sugP95 < 10,
      },
      {
        name: 'enqueue_discovery_for_user p50 (10 items each, incl. commit)',
        value: round(median(enqueue.map((l) => l.p50))),
        unit: 'ms',
        target: 'info',
        ok: true,
      },
      {
        name: 'enqueue_discovery_for_user p95 (10 items each, incl. commit)',
        value: round(enqP95),
        unit: 'ms',
        target: '< 5 ms',
        ok: enqP95 < 5,
      },
      {
        name: 'floor: one-row insert + commit p95, same machine',
        value: round(median(floor.map((l) => l.p95))),
        unit: 'ms',
        target: 'info',
        ok: true,
      },
      {
        name: `rocker-discovery-run via gateway (limit ${RUN_LIMIT}/request)`,
        value: Math.round(median(rates)),
        unit: 'items/s',
        target: '>= 1000 items/s',
        ok: median(rates) >= 1000,
      },
    ]
    return figures
  },
}
