// Flag and rate-limit figures: cached flag evaluation in-process (flags.ts over a store loaded
// from the real database), and public.check_rate_limit throughput with 4 concurrent clients.
import postgres from 'postgres'
import { createDb } from '../supabase/functions/_shared/db.ts'
import { createFlagStore } from '../supabase/functions/_shared/flags.ts'
import { type Bench, type Figure, median, pgbench, round } from './harness.ts'

const RUNS = 3
const EVALUATIONS = 2_000_000
const USERS = 10_000
const CLIENTS = 4
const RATE_LIMIT_SECONDS = 3

/** Evaluations per second of `evaluate`, awaited one after another as request code does. */
async function evaluationsPerSecond(evaluate: (i: number) => Promise<unknown>): Promise<number> {
  const t0 = performance.now()
  for (let i = 0; i < EVALUATIONS; i++) await evaluate(i)
  return EVALUATIONS / ((performance.now() - t0) / 1000)
}

export const bench: Bench = {
  name: 'flags',
  async run(ctx) {
    const figures: Figure[] = []

    // -------------------------------------------------------------------------------------------
    // Cached evaluation: a static flag, and the safe-mode canary (a SPLIT per user)
    // -------------------------------------------------------------------------------------------
    await ctx
      .sql`update public.feature_flags set value = '{"enabled": true, "percentage": 95}'::jsonb
                  where key = 'global.safe_mode'`
    const db = createDb(ctx.dbUrl, { max: 1 })
    try {
      const store = createFlagStore({ sql: db })
      await store.refresh()
      const users = Array.from({ length: USERS }, () => crypto.randomUUID())
      const staticRuns: number[] = []
      const splitRuns: number[] = []
      // Warm-up, so the JIT has compiled the hot path before the clock starts.
      await evaluationsPerSecond((i) => store.isSafeMode(users[i % USERS]))
      for (let r = 0; r < RUNS; r++) {
        staticRuns.push(
          await evaluationsPerSecond((i) =>
            store.isEnabled('marketplace.suggest', users[i % USERS])
          ),
        )
        splitRuns.push(await evaluationsPerSecond((i) => store.isSafeMode(users[i % USERS])))
      }
      ctx.log(`flags: static runs ${staticRuns.map((v) => round(v, 0)).join(', ')}/s`)
      ctx.log(`flags: split runs ${splitRuns.map((v) => round(v, 0)).join(', ')}/s`)
      const staticRate = median(staticRuns)
      const splitRate = median(splitRuns)
      figures.push(
        {
          name: 'cached flag evaluation (static flag)',
          value: round(staticRate, 0),
          unit: 'evals/s',
          target: '>= 1,000,000/s',
          ok: staticRate >= 1_000_000,
        },
        {
          name: `cached flag evaluation (safe-mode canary, ${USERS} users)`,
          value: round(splitRate, 0),
          unit: 'evals/s',
          target: '>= 1,000,000/s',
          ok: splitRate >= 1_000_000,
        },
      )
    } finally {
      await db.end()
      await ctx.sql`update public.feature_flags set value = '{"enabled": false}'::jsonb
                    where key = 'global.safe_mode'`
    }

    // -------------------------------------------------------------------------------------------
    // check_rate_limit: 4 clients, each on its own connection, calling back to back
    // -------------------------------------------------------------------------------------------
    const clients = Array.from(
      { length: CLIENTS },
      () => postgres(ctx.dbUrl, { prepare: false, max: 1, onnotice: () => {} }),
    )
    try {
      await Promise.all(clients.map((c) => c`select 1`))
      /** Calls per second of `call` with every client calling back to back, median of RUNS. */
      const throughput = async (call: (sql: postgres.Sql, n: number, i: number) => unknown) => {
        const runs: number[] = []
        for (let r = 0; r < RUNS; r++) {
          let calls = 0
          const t0 = performance.now()
          const until = t0 + RATE_LIMIT_SECONDS * 1000
          await Promise.all(clients.map(async (sql, n) => {
            for (let i = 0; performance.now() < until; i++) {
              await call(sql, n, i)
              calls++
            }
          }))
          runs.push(calls / ((performance.now() - t0) / 1000))
        }
        return runs
      }
      const runs = await throughput((sql, n, i) =>
        // Many subjects, as in production: each user has their own counter row.
        sql`select allowed from public.check_rate_limit(
              p_subject => ${`bench-user-${n}-${i % 500}`}::text, p_bucket => 'bench'::text,
              p_limit => 1000000::int, p_window_seconds => 60::int)`
      )
      // The same clients doing nothing but round trips: the machine's ceiling for this shape of
      // load (client and server share the CPUs), to read the figure above against.
      const ceiling = await throughput((sql) => sql`select 1`)
      ctx.log(`flags: check_rate_limit runs ${runs.map((v) => round(v, 0)).join(', ')} calls/s`)
      ctx.log(`flags: select 1 runs ${ceiling.map((v) => round(v, 0)).join(', ')} calls/s`)
      // The primary figure: 4 concurrent pgbench clients calling the function, many subjects.
      const pgbenchRuns: number[] = []
      for (let r = 0; r < RUNS; r++) {
        pgbenchRuns.push(
          (await pgbench(
            ctx,
            `\\set n random(1, 2000)\n` +
              `select allowed from public.check_rate_limit('bench-user-' || :n::text, 'bench', ` +
              `1000000, 60);\n`,
            { clients: CLIENTS, seconds: RATE_LIMIT_SECONDS },
          )).tps,
        )
      }
      ctx.log(`flags: pgbench check_rate_limit runs ${pgbenchRuns.map((v) => round(v, 0))}`)
      const rate = median(pgbenchRuns)
      figures.push(
        {
          name: `check_rate_limit, pgbench (${CLIENTS} concurrent clients)`,
          value: round(rate, 0),
          unit: 'calls/s',
          target: '>= 2,000/s',
          ok: rate >= 2000,
        },
        {
          name: `check_rate_limit from Deno/postgres.js (${CLIENTS} clients)`,
          value: round(median(runs), 0),
          unit: 'calls/s',
          target: 'info',
          ok: true,
        },
        {
          name: `round-trip ceiling: select 1 (${CLIENTS} concurrent clients)`,
          value: round(median(ceiling), 0),
          unit: 'calls/s',
          target: 'info',
          ok: true,
          note: `${navigator.hardwareConcurrency} CPUs shared by client and server`,
        },
      )
    } finally {
      await Promise.all(clients.map((c) => c.end()))
      await ctx.sql`delete from public.rate_limits where bucket = 'bench'`
    }
    return figures
  },
}
