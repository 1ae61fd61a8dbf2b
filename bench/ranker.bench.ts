// Ranker figures: a 200-candidate decision with its logging, in-function (the /rank handler
// in-process on a real database client); decisions per second through the gateway; and, over
// 1,000,000 learning_events (all in the last 24 h), vw_policy_health, policy_ope and an
// incremental hydrate of 100,000 new events. Each figure is the median of its rounds.
import type postgres from 'postgres'
import { localKeys } from '../local/keys.ts'
import { userTestJwt } from '../local/testing.ts'
import { createDb } from '../supabase/functions/_shared/db.ts'
import { createPolicyRankerApp } from '../supabase/functions/policy-ranker/app.ts'
import {
  type Bench,
  type BenchContext,
  type Figure,
  median,
  percentile,
  pgbench,
  round,
} from './harness.ts'

const EVENTS = 1_000_000
const NEW_EVENTS = 100_000
const SLOTS = 12 // slots per logged decision (the /rank default limit)
const POOL = 200 // candidates per decision
const USERS = 20_000
const CANDIDATES = 20_000
const ROUNDS = 5
const DECISIONS_PER_ROUND = 300
const HYDRATE_ROUNDS = 3
const GATEWAY_ROUNDS = 3
const GATEWAY_SECONDS = 4
const GATEWAY_CLIENTS = 12
// Gateway requests spread over this many users: the function's per-user limit (120/min by
// default, and a bench cannot change a function process's environment) is never reached.
const GATEWAY_USERS = 4_000

const BENCH_USER = (n: number | string) => `md5('bench-ranker-user-' || ${n})::uuid`

/**
 * SQL inserting the slots of decisions d0…d0+n−1 (n·12 rows), spread evenly from `from` to `to`
 * in id order, as a live log is. Per decision (hashed from its number, so reruns agree): a user
 * out of 20,000, a surface, an arm (80 % epsilon_greedy_v1 at ε 0.08, 15 % epsilon_greedy_v2 at
 * ε 0.2, 5 % safe mode: v1 with ε 0 and p_exp 0), and a base candidate skewed towards popular
 * ones. Per slot: K = 200 − position candidates left; it explores with probability ε(K−1)/K
 * (placing another candidate than the greedy one, with p_exp ε/K, else 1 − ε + ε/K); 30 % of
 * slots are rewarded, 0 or 1, at a rate that depends on the candidate.
 */
function eventsSql(d0: number, n: number, from: string, to: string): string {
  return `
    with d as (
      select d,
             ${BENCH_USER(`abs(hashint4(d)) % ${USERS}`)} as user_id,
             md5('bench-ranker-decision-' || d)::uuid as decision_id,
             case when abs(hashint4(d + 1)) % 100 < 5 then 'safe'
                  when abs(hashint4(d + 1)) % 100 < 20 then 'v2' else 'v1' end as arm,
             (array['feed', 'feed', 'feed', 'feed', 'feed', 'feed', 'feed', 'search', 'search',
                    'home'])[abs(hashint4(d + 3)) % 10 + 1] as surface,
             floor(${CANDIDATES} * power((abs(hashint4(d + 2)) % 1000000) / 1e6, 2))::int as base,
             (${from}) + ((${to}) - (${from})) * ((d - ${d0})::double precision / ${n}) as ts
      from generate_series(${d0}, ${d0 + n - 1}) d
    ),
    s as (
      select d.*, pos, ${POOL} - pos as k,
             case d.arm when 'safe' then 0 when 'v2' then 0.2 else 0.08 end as eps,
             random() as u_explore, random() as u_reward, random() as u_value
      from d cross join generate_series(0, ${SLOTS - 1}) pos
    ),
    x as (
      -- Placed candidate: the greedy one (base + 101·pos) or another (+ 13); both stay
      -- distinct within a decision, as a slate never places a candidate twice.
      select s.*, s.u_explore < s.eps * (s.k - 1) / s.k as explored,
             (s.base + 101 * s.pos) % ${CANDIDATES} as greedy
      from s
    ),
    y as (
      select x.*, (x.greedy + case when x.explored then 13 else 0 end) % ${CANDIDATES} as placed
      from x
    )
    insert into public.learning_events (ts, decision_id, user_id, surface, candidate_id, position,
                                        policy, p_exp, score, explored, reward, rewarded_at,
                                        context)
    select y.ts, y.decision_id, y.user_id, y.surface, 'bench-cand-' || y.placed, y.pos,
           case y.arm when 'v2' then 'epsilon_greedy_v2' else 'epsilon_greedy_v1' end,
           case when y.arm = 'safe' then 0 when y.explored then y.eps / y.k
                else 1 - y.eps + y.eps / y.k end,
           0.9 - 0.03 * y.pos, y.explored,
           case when y.u_reward < 0.3
                then (y.u_value < 0.2 + 0.5 * (y.placed % 10) / 10.0)::int end,
           case when y.u_reward < 0.3 then y.ts + interval '10 minutes' * y.u_value end,
           jsonb_build_object('k', y.k, 'greedy', 'bench-cand-' || y.greedy, 'epsilon', y.eps)
    from y`
}

/** Appends `decisions` decisions' slots (numbered on from `next`) and returns the next number. */
async function insertEvents(
  sql: postgres.Sql,
  next: number,
  decisions: number,
  from: string,
  to: string,
): Promise<number> {
  await sql.unsafe(eventsSql(next, decisions, from, to))
  return next + decisions
}

/** Folds every pending event into the feature store (passes of at most 1,000,000). */
async function hydrateAll(sql: postgres.Sql): Promise<number> {
  let total = 0
  for (;;) {
    const [{ events_read }] = await sql<{ events_read: string }[]>`
      select events_read from ops.hydrate_features(p_max_events => 1000000)`
    total += Number(events_read)
    if (Number(events_read) < 1_000_000) return total
  }
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now()
  const value = await fn()
  return { ms: performance.now() - t0, value }
}

interface Latency {
  p50: number
  p95: number
  all: number[]
}

const latency = (times: number[]): Latency => {
  const sorted = [...times].sort((a, b) => a - b)
  return { p50: percentile(sorted, 50), p95: percentile(sorted, 95), all: times }
}

/** 200 candidate ids: 180 with features (the most logged), 20 the store has never seen. */
const candidateIds = Array.from(
  { length: POOL },
  (_, i) => i < 180 ? `bench-cand-${i}` : `bench-new-${i}`,
)
const rankBody = JSON.stringify({
  surface: 'feed',
  limit: SLOTS,
  candidates: candidateIds.map((id) => ({ id })),
})

/**
 * pgbench script: the three statements a decision sends (policy-ranker's rate limit, scores and
 * log, the log committed asynchronously as decisions.ts does), for a random bench user, with the
 * /rank figures' 200 candidates and a 12-slot slate.
 */
function decisionScript(): string {
  const ids = `{${candidateIds.join(',')}}`
  const slots = JSON.stringify(
    Array.from({ length: SLOTS }, (_, i) => ({
      candidate_id: candidateIds[i],
      position: i,
      p_exp: 0.92 + 0.08 / (POOL - i),
      score: 0.9 - 0.03 * i,
      explored: false,
      context: { k: POOL - i, greedy: candidateIds[i], epsilon: 0.08 },
    })),
    // pgbench reads `:name` as a variable, even inside a literal ("explored":false).
  ).replaceAll('":', '": ')
  const user = BENCH_USER(':n::int')
  return `\\set n random(0, ${USERS - 1})
select allowed from public.check_rate_limit(${user}::text, 'policy-ranker', 100000, 60);
select candidate_id, score from public.ranker_candidate_scores(${user}, '${ids}');
with async_commit as materialized (
  select pg_catalog.set_config('synchronous_commit', 'off', true))
select public.log_learning_decision(gen_random_uuid(), ${user}, 'feed', 'epsilon_greedy_v1',
  '${slots}') from async_commit;
`
}

async function userIds(sql: postgres.Sql, from: number, n: number): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    select ${sql.unsafe(BENCH_USER('n'))}::text as id
    from generate_series(${from}::int, ${from + n - 1}::int) n order by n`
  return rows.map((r) => r.id)
}

/** The /rank handler in-process: sequential 200-candidate decisions, learning on. */
async function inFunctionDecisions(
  ctx: BenchContext,
  jwtSecret: string,
  tokens: string[],
): Promise<Latency[]> {
  const db = createDb(ctx.dbUrl, { max: 5 })
  try {
    // A limit no round reaches: the per-user check itself (one call per request) is measured.
    const app = createPolicyRankerApp({
      sql: db,
      env: { JWT_SECRET: jwtSecret },
      config: { rateLimitPerMinute: 100_000 },
    })
    const decide = async (token: string) => {
      const res = await app.request('/policy-ranker/rank', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: rankBody,
      })
      const body = await res.json()
      if (res.status !== 200) {
        throw new Error(`/rank answered ${res.status}: ${JSON.stringify(body)}`)
      }
      if (body.items.length !== SLOTS || body.safe_mode) {
        throw new Error(`unexpected slate: ${JSON.stringify(body).slice(0, 300)}`)
      }
    }
    for (let i = 0; i < 100; i++) await decide(tokens[i % tokens.length]) // warm-up
    const rounds: Latency[] = []
    for (let r = 0; r < ROUNDS; r++) {
      const times: number[] = []
      for (let i = 0; i < DECISIONS_PER_ROUND; i++) {
        const token = tokens[(r * DECISIONS_PER_ROUND + i) % tokens.length]
        const t0 = performance.now()
        await decide(token)
        times.push(performance.now() - t0)
      }
      rounds.push(latency(times))
      ctx.log(
        `ranker: in-function round ${r + 1}: p50/p95 ${round(rounds[r].p50)}/` +
          `${round(rounds[r].p95)} ms`,
      )
    }
    return rounds
  } finally {
    await db.end()
  }
}

/** Decisions per second through the gateway, GATEWAY_CLIENTS requests in flight. */
async function gatewayRate(ctx: BenchContext, tokens: string[], seconds: number, offset: number) {
  const url = `${ctx.apiUrl}/functions/v1/policy-ranker/rank`
  let done = 0
  let next = offset
  const t0 = performance.now()
  const until = t0 + seconds * 1000
  await Promise.all(Array.from({ length: GATEWAY_CLIENTS }, async () => {
    while (performance.now() < until) {
      const token = tokens[next++ % tokens.length]
      const res = await fetch(url, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: rankBody,
      })
      const text = await res.text()
      if (res.status !== 200) throw new Error(`gateway /rank answered ${res.status}: ${text}`)
      done++
    }
  }))
  return { rate: done / ((performance.now() - t0) / 1000), requests: next - offset }
}

export const bench: Bench = {
  name: 'ranker',
  async run(ctx) {
    const { sql, log } = ctx
    // Other work on the machine shows in every figure here; the load says how much there was.
    const logLoad = () =>
      log(`ranker: load average ${Deno.loadavg().map((v) => round(v)).join(' ')}`)
    logLoad()
    // Printed decision figures first, then the evaluation and feature-store ones.
    const decisionFigures: Figure[] = []
    const figures: Figure[] = []
    const [{ start_id }] = await sql<{ start_id: string }[]>`
      select coalesce(max(id), 0)::text as start_id from public.learning_events`
    const [savedState] = await sql`select * from ops.learning_hydrate_state`
    // The 5-minute hydrate job would fold the bench's events in the background, in the middle
    // of what is measured; paused for the bench, resumed after.
    await sql`select cron.alter_job(jobid, active => false) from cron.job
              where jobname = 'hydrate-features'`
    let next = 0 // decision numbers handed out so far
    try {
      // -----------------------------------------------------------------------------------------
      // 1,000,000 events over the last 24 h, then the feature store caught up on all of them
      // -----------------------------------------------------------------------------------------
      log(`ranker: loading ${EVENTS} learning_events (${Math.ceil(EVENTS / SLOTS)} decisions)`)
      const load = await timed(() =>
        insertEvents(
          sql,
          next,
          Math.ceil(EVENTS / SLOTS),
          `now() - interval '23 hours 30 minutes'`,
          `now() - interval '5 minutes'`,
        )
      )
      next = load.value
      await sql.unsafe('vacuum analyze public.learning_events')
      await sql.unsafe('vacuum analyze ops.learning_reward_log')
      log(`ranker: loaded in ${round(load.ms / 1000, 1)} s; hydrating all of it`)
      const catchUp = await timed(() => hydrateAll(sql))
      log(`ranker: full hydrate ${round(catchUp.ms / 1000, 1)} s: ${catchUp.value} events`)
      await sql.unsafe('vacuum analyze public.candidate_features')
      await sql.unsafe('vacuum analyze public.user_features')
      await sql.unsafe('checkpoint')
      const [stats] = await sql<{ window_rows: number; rewarded_v1: number }[]>`
        select count(*)::int as window_rows,
               (count(*) filter (where policy = 'epsilon_greedy_v1'
                                   and reward is not null))::int as rewarded_v1
        from public.learning_events where ts >= now() - interval '24 hours'`
      log(`ranker: ${stats.window_rows} rows in the 24 h window, ${stats.rewarded_v1} rewarded v1`)

      // -----------------------------------------------------------------------------------------
      // vw_policy_health and policy_ope over them
      // -----------------------------------------------------------------------------------------
      await sql`select * from public.vw_policy_health` // warm-up
      const health: number[] = []
      const ope: number[] = []
      for (let r = 0; r < ROUNDS; r++) {
        health.push((await timed(() => sql`select * from public.vw_policy_health`)).ms)
        ope.push(
          (await timed(() =>
            sql`select * from public.policy_ope(p_policy => 'epsilon_greedy_v1',
                                                p_since => now() - interval '24 hours')`
          )).ms,
        )
      }
      log(`ranker: vw_policy_health ${health.map((v) => round(v, 1)).join(', ')} ms`)
      log(`ranker: policy_ope ${ope.map((v) => round(v, 1)).join(', ')} ms`)
      const healthMs = median(health)
      const opeMs = median(ope)
      figures.push(
        {
          name: `vw_policy_health, ${round(stats.window_rows / 1e6, 1)}M events in the 24 h window`,
          value: round(healthMs, 1),
          unit: 'ms',
          target: '< 100 ms',
          ok: healthMs < 100,
        },
        {
          name: `policy_ope(epsilon_greedy_v1, 24 h), 1M events (${stats.rewarded_v1} rewarded)`,
          value: round(opeMs, 1),
          unit: 'ms',
          target: '< 2000 ms',
          ok: opeMs < 2000,
          note: 'IPS, SNIPS, DR with CIs',
        },
      )

      // -----------------------------------------------------------------------------------------
      // Incremental hydrate: 100,000 new events past the watermark, then one pass
      // -----------------------------------------------------------------------------------------
      const hydrate: number[] = []
      const newDecisions = Math.ceil(NEW_EVENTS / SLOTS)
      const healthBehind: number[] = []
      for (let r = 0; r < HYDRATE_ROUNDS; r++) {
        next = await insertEvents(sql, next, newDecisions, `now() - interval '4 minutes'`, 'now()')
        await sql.unsafe('analyze public.learning_events')
        if (r === 0) {
          // The view when the hydrate is behind: it reads the new slots raw until a pass rolls
          // them up (at the 5-minute cadence about 3,500 of them at 1M a day, here 100,000).
          for (let i = 0; i < ROUNDS; i++) {
            healthBehind.push((await timed(() => sql`select * from public.vw_policy_health`)).ms)
          }
          log(`ranker: vw_policy_health, hydrate behind ${healthBehind.map((v) => round(v, 1))} ms`)
        }
        const pass = await timed(() =>
          sql<{ events_read: string }[]>`
            select * from ops.hydrate_features(p_max_events => ${newDecisions * SLOTS}::int)`
        )
        if (Number(pass.value[0].events_read) !== newDecisions * SLOTS) {
          throw new Error(`hydrate read ${JSON.stringify(pass.value)}`)
        }
        hydrate.push(pass.ms)
        log(`ranker: hydrate round ${r + 1}: ${round(pass.ms)} ms ${JSON.stringify(pass.value)}`)
      }
      // The same pass through hydrate-features, as pg_cron calls it (service_role key).
      next = await insertEvents(sql, next, newDecisions, `now() - interval '4 minutes'`, 'now()')
      await sql.unsafe('analyze public.learning_events')
      const viaFunction = await timed(async () => {
        const res = await fetch(`${ctx.apiUrl}/functions/v1/hydrate-features`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${ctx.serviceRoleKey}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify({ max_events: newDecisions * SLOTS }),
        })
        const body = await res.json()
        if (res.status !== 200) throw new Error(`hydrate-features: ${JSON.stringify(body)}`)
        return body
      })
      log(
        `ranker: hydrate-features via gateway ${round(viaFunction.ms)} ms ` +
          JSON.stringify(viaFunction.value),
      )
      const hydrateMs = median(hydrate)
      figures.push(
        {
          name: `ops.hydrate_features incremental, ${
            NEW_EVENTS / 1000
          }k new events (30 % rewarded)`,
          value: round(hydrateMs),
          unit: 'ms',
          target: '< 5000 ms',
          ok: hydrateMs < 5000,
        },
        {
          name: `vw_policy_health, hydrate behind by ${NEW_EVENTS / 1000}k events (read raw)`,
          value: round(median(healthBehind), 1),
          unit: 'ms',
          target: 'info',
          ok: true,
        },
        {
          name: `hydrate-features via gateway, ${NEW_EVENTS / 1000}k new events (one run)`,
          value: round(viaFunction.ms),
          unit: 'ms',
          target: 'info',
          ok: true,
        },
      )

      // -----------------------------------------------------------------------------------------
      // A decision in-function: the /rank handler with a real database client
      // -----------------------------------------------------------------------------------------
      // The stack signs and verifies with localKeys() (local/stack.ts); the bench context carries
      // no JWT secret of its own.
      const keys = await localKeys()
      const env = { ...keys, apiUrl: ctx.apiUrl, dbUrl: ctx.dbUrl }
      const inFnUsers = await userIds(sql, 0, 1_000)
      const inFnTokens = await Promise.all(inFnUsers.map((id) => userTestJwt(id, env)))
      const rounds = await inFunctionDecisions(ctx, keys.jwtSecret, inFnTokens)
      const pooled = latency(rounds.flatMap((l) => l.all))
      const p95 = median(rounds.map((l) => l.p95))
      decisionFigures.push(
        {
          name: `/rank in-function, ${POOL} candidates + logging, p50 (median of ${ROUNDS}x` +
            `${DECISIONS_PER_ROUND})`,
          value: round(median(rounds.map((l) => l.p50))),
          unit: 'ms',
          target: 'info',
          ok: true,
        },
        {
          name: `/rank in-function, ${POOL} candidates + logging, p95 (median of ${ROUNDS}x` +
            `${DECISIONS_PER_ROUND})`,
          value: round(p95),
          unit: 'ms',
          target: '< 5 ms',
          ok: p95 < 5,
          note: `p95 of all ${pooled.all.length}: ${round(pooled.p95)} ms`,
        },
      )

      // -----------------------------------------------------------------------------------------
      // Decisions per second through the gateway
      // -----------------------------------------------------------------------------------------
      const gwUsers = await userIds(sql, USERS, GATEWAY_USERS)
      const gwTokens = await Promise.all(gwUsers.map((id) => userTestJwt(id, env)))
      await gatewayRate(ctx, gwTokens, 1, 0) // warm-up: connections, JIT
      const rates: number[] = []
      let offset = 0
      for (let r = 0; r < GATEWAY_ROUNDS; r++) {
        const run = await gatewayRate(ctx, gwTokens, GATEWAY_SECONDS, offset)
        offset += run.requests
        rates.push(run.rate)
        log(`ranker: gateway round ${r + 1}: ${Math.round(run.rate)} decisions/s`)
      }
      const rate = median(rates)
      // The database's share alone, from a C client: rate limit, scores and log, as one
      // decision sends them. What the gateway figure cannot exceed on the same cores.
      const dbRates: number[] = []
      for (let r = 0; r < GATEWAY_ROUNDS; r++) {
        dbRates.push(
          (await pgbench(ctx, decisionScript(), {
            clients: GATEWAY_CLIENTS,
            seconds: GATEWAY_SECONDS,
          })).tps,
        )
      }
      log(`ranker: pgbench decision SQL ${dbRates.map((v) => Math.round(v)).join(', ')}/s`)
      decisionFigures.push(
        {
          name: `/rank via gateway, ${POOL} candidates + logging, ${GATEWAY_CLIENTS} in flight`,
          value: Math.round(rate),
          unit: 'dec/s',
          target: '>= 500/s',
          ok: rate >= 500,
        },
        {
          name: `database side only: a decision's 3 SQL calls, pgbench ${GATEWAY_CLIENTS} clients`,
          value: Math.round(median(dbRates)),
          unit: 'dec/s',
          target: 'info',
          ok: true,
          note: `${navigator.hardwareConcurrency} CPUs shared by clients, gateway, function, db`,
        },
      )
      logLoad()
    } finally {
      log('ranker: removing the bench data')
      await sql.unsafe(`
        delete from public.user_features uf
         where uf.user_id in (select ${BENCH_USER('n')} from generate_series(0, ${
        USERS + GATEWAY_USERS - 1
      }) n);
        delete from public.rate_limits r
         where r.bucket = 'policy-ranker'
           and r.subject in (select ${BENCH_USER('n')}::text
                               from generate_series(0, ${USERS + GATEWAY_USERS - 1}) n);
        delete from public.candidate_features
         where candidate_id like 'bench-cand-%' or candidate_id like 'bench-new-%';
        delete from ops.learning_reward_log where event_id > ${start_id};
        delete from public.learning_events where id > ${start_id};`)
      await sql`update ops.learning_hydrate_state set event_watermark = ${savedState.event_watermark}`
      await sql`select cron.alter_job(jobid, active => true) from cron.job
                where jobname = 'hydrate-features'`
    }
    return [...decisionFigures, ...figures]
  },
}
