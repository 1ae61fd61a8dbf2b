// Health figure: GET /functions/v1/health through the gateway, with a 1,000,000-row table
// in the database (table sizes must come from estimates, not scans).
import { type Bench, type Figure, median, percentile, round } from './harness.ts'

const REQUESTS = 1000
const ROUNDS = 3

export const bench: Bench = {
  name: 'health',
  async run(ctx) {
    ctx.log('health: loading 1,000,000 rows into public.bench_big_table')
    await ctx.sql.unsafe(`
      create table if not exists public.bench_big_table(id bigint primary key, payload text);
      alter table public.bench_big_table enable row level security;
      truncate public.bench_big_table;
      insert into public.bench_big_table
        select g, md5(g::text) from generate_series(1, 1000000) g;
      analyze public.bench_big_table;`)
    const url = `${ctx.apiUrl}/functions/v1/health`
    for (let i = 0; i < 50; i++) await (await fetch(url)).body?.cancel() // warm-up
    const p50s: number[] = []
    const p95s: number[] = []
    for (let round = 0; round < ROUNDS; round++) {
      const times: number[] = []
      for (let i = 0; i < REQUESTS; i++) {
        const t0 = performance.now()
        const res = await fetch(url)
        await res.arrayBuffer()
        if (res.status !== 200) throw new Error(`health answered ${res.status}`)
        times.push(performance.now() - t0)
      }
      times.sort((a, b) => a - b)
      p50s.push(percentile(times, 50))
      p95s.push(percentile(times, 95))
    }
    await ctx.sql.unsafe('drop table public.bench_big_table')
    const p50 = median(p50s)
    const p95 = median(p95s)
    const figures: Figure[] = [
      {
        name: 'health via gateway p50 (1M-row table, median of 3x1000)',
        value: round(p50),
        unit: 'ms',
        target: 'info',
        ok: true,
      },
      {
        name: 'health via gateway p95 (1M-row table, median of 3x1000)',
        value: round(p95),
        unit: 'ms',
        target: '< 20 ms',
        ok: p95 < 20,
      },
    ]
    return figures
  },
}
