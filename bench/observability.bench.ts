// Observability figures: what span recording adds to a request (an in-process function app with
// spans on against the same app with spans off, on a real database); vw_kernel_slos,
// vw_slo_burnrate and the alert evaluation over 1,000,000 spans; and whether the usage-metrics
// emitter keeps up with 10,000 events/s into a local webhook. Each figure is the median of its
// rounds.
import { createDb } from '../supabase/functions/_shared/db.ts'
import { createUsageMetrics } from '../supabase/functions/_shared/metrics.ts'
import { createSpanRecorder, NO_SPANS, sqlSpanWriter } from '../supabase/functions/_shared/spans.ts'
import { deleteSpans } from '../supabase/functions/_shared/spans_testing.ts'
import { createFunctionApp } from '../supabase/functions/_shared/wiring.ts'
import { type Bench, type BenchContext, type Figure, median, percentile, round } from './harness.ts'

const SPANS = 1_000_000
const PATHS = 20
const OVERHEAD_ROUNDS = 5
const REQUESTS_PER_ROUND = 5_000
const VIEW_ROUNDS = 5
const EMITTER_ROUNDS = 3
const EMIT_RATE = 10_000 // events per second
const EMIT_SECONDS = 3

/**
 * One round: two copies of a function app with a trivial route, one writing spans to
 * kernel_spans and one without, asked in turn so drift on a shared machine hits both alike.
 * Returns each side's p95 in ms.
 */
async function overheadRound(ctx: BenchContext): Promise<{ on: number; off: number }> {
  const sql = createDb(ctx.dbUrl)
  try {
    const spans = createSpanRecorder({ write: sqlSpanWriter(sql) })
    const apps = [NO_SPANS, spans].map((recorder) => {
      const app = createFunctionApp('bench-spans', { sql, env: {}, spans: recorder })
      app.get('/', (c) => c.json({ ok: true }))
      return app
    })
    const times: number[][] = [[], []]
    for (let i = -500; i < REQUESTS_PER_ROUND; i++) { // the first 500 warm up
      for (const side of [0, 1]) {
        const t0 = performance.now()
        const res = await apps[side].request('/bench-spans')
        await res.arrayBuffer()
        if (i >= 0) times[side].push(performance.now() - t0)
      }
    }
    // This round's background writes finish before the next round measures.
    await spans.flush()
    if (spans.stats.sent < REQUESTS_PER_ROUND) {
      throw new Error(`only ${spans.stats.sent} spans written: ${JSON.stringify(spans.stats)}`)
    }
    const [off, on] = times.map((t) => percentile(t.sort((a, b) => a - b), 95))
    return { on, off }
  } finally {
    await sql.end({ timeout: 1 })
  }
}

async function spanOverhead(ctx: BenchContext): Promise<Figure[]> {
  const on: number[] = []
  const off: number[] = []
  for (let round = 0; round < OVERHEAD_ROUNDS; round++) {
    const result = await overheadRound(ctx)
    on.push(result.on)
    off.push(result.off)
  }
  await deleteSpans(ctx.sql, 'bench-spans')
  const added = median(on) - median(off)
  return [
    {
      name:
        `in-process request p95, spans off (median of ${OVERHEAD_ROUNDS}x${REQUESTS_PER_ROUND})`,
      value: round(median(off), 3),
      unit: 'ms',
      target: 'info',
      ok: true,
    },
    {
      name: `in-process request p95, spans on (written to kernel_spans)`,
      value: round(median(on), 3),
      unit: 'ms',
      target: 'info',
      ok: true,
    },
    {
      name: 'span recording added to request p95',
      value: round(added, 3),
      unit: 'ms',
      target: '< 1 ms',
      ok: added < 1,
    },
  ]
}

async function timeQuery(ctx: BenchContext, query: string): Promise<number> {
  await ctx.sql.unsafe(query) // warm-up
  const times: number[] = []
  for (let i = 0; i < VIEW_ROUNDS; i++) {
    const t0 = performance.now()
    await ctx.sql.unsafe(query)
    times.push(performance.now() - t0)
  }
  return median(times)
}

/** Median time of a Prometheus scrape through the gateway, with the service_role key. */
async function timeScrape(ctx: BenchContext): Promise<number> {
  const scrape = async () => {
    const res = await fetch(`${ctx.apiUrl}/functions/v1/health/metrics`, {
      headers: { authorization: `Bearer ${ctx.serviceRoleKey}` },
    })
    const text = await res.text()
    if (res.status !== 200 || !text.includes('edge_kernel_metrics_source_up')) {
      throw new Error(`/health/metrics answered ${res.status}`)
    }
    if (text.includes('_source_up{source="requests"} 0')) {
      throw new Error('/health/metrics could not read its requests source')
    }
    return text
  }
  await scrape() // warm-up
  const times: number[] = []
  let last = ''
  for (let i = 0; i < VIEW_ROUNDS; i++) {
    const t0 = performance.now()
    last = await scrape()
    times.push(performance.now() - t0)
  }
  // Where a scrape's time goes, from its own per-source gauge.
  const perSource = [
    ...last.matchAll(/^edge_kernel_metrics_source_duration_seconds\{source="([a-z_]+)"\} (\S+)$/gm),
  ]
    .map(([, source, seconds]) => `${source} ${round(Number(seconds) * 1000, 1)} ms`)
  ctx.log(`observability: last scrape's sources: ${perSource.join(', ')}`)
  return median(times)
}

/**
 * 1,000,000 spans over 20 paths (functions and rpc.*), 2 % of them failed, latencies log-normal
 * around 40 ms. `hours` is how far back they spread: 1 puts every span in every window, the
 * worst case for the views.
 */
async function loadSpans(ctx: BenchContext, hours: number): Promise<void> {
  await clearSpans(ctx)
  // Inserted as the owner in one statement; the rollup trigger folds them in as it would
  // record_spans batches.
  await ctx.sql.unsafe(`
    insert into public.kernel_spans (at, path, function, route, status, duration_ms, ok)
    select pg_catalog.now() - interval '1 second' * (${
    hours * 3600
  } * g::double precision / ${SPANS}),
           p.path, p.path, '/' || p.path, case when e.failed then 500 else 200 end,
           (40 * exp(0.8 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())))::real,
           not e.failed
      from generate_series(1, ${SPANS}) g
      cross join lateral (select case when g % ${PATHS} < 5 then 'rpc.bench_fn_' || (g % ${PATHS})
                                      else 'bench-fn-' || (g % ${PATHS}) end as path) p
      -- The + 0 * g makes the draw per row: an uncorrelated subquery would run once.
      cross join lateral (select random() + 0 * g < 0.02 as failed) e`)
  await ctx.sql.unsafe(`analyze public.kernel_spans`)
}

/** Empties kernel_spans and its rollups (which are maintained on insert only). */
async function clearSpans(ctx: BenchContext): Promise<void> {
  await ctx.sql.unsafe(
    'truncate public.kernel_spans, ops.kernel_span_minutes, ops.kernel_span_buckets',
  )
}

async function viewFigures(ctx: BenchContext): Promise<Figure[]> {
  const figures: Figure[] = []
  for (const hours of [1, 72]) {
    ctx.log(`observability: loading ${SPANS} spans over the last ${hours} h`)
    await loadSpans(ctx, hours)
    const spread = hours === 1 ? 'all in the last hour' : 'over 3 days'
    const slos = await timeQuery(ctx, 'select * from public.vw_kernel_slos')
    const burn = await timeQuery(ctx, 'select * from public.vw_slo_burnrate')
    const alerts = await timeQuery(ctx, 'select * from ops.evaluate_alerts()')
    const scrape = await timeScrape(ctx)
    figures.push(
      {
        name: `vw_kernel_slos, 1M spans ${spread}`,
        value: round(slos, 1),
        unit: 'ms',
        target: '< 200 ms',
        ok: slos < 200,
      },
      {
        name: `vw_slo_burnrate, 1M spans ${spread}`,
        value: round(burn, 1),
        unit: 'ms',
        target: '< 200 ms',
        ok: burn < 200,
      },
      {
        name: `ops.evaluate_alerts(), 1M spans ${spread}`,
        value: round(alerts, 1),
        unit: 'ms',
        target: '< 500 ms',
        ok: alerts < 500,
      },
      {
        name: `GET /health/metrics via gateway, 1M spans ${spread}`,
        value: round(scrape, 1),
        unit: 'ms',
        target: 'info',
        ok: true,
      },
    )
  }
  // Leave no load behind for the benches that follow; one more evaluation settles the alerts.
  await clearSpans(ctx)
  await ctx.sql.unsafe('select * from ops.evaluate_alerts()')
  return figures
}

/**
 * Emits at EMIT_RATE for EMIT_SECONDS (100 events every 10 ms) into a webhook on 127.0.0.1 with
 * the emitter's default buffer, batch and linger, and reports the rate delivered (emit start to
 * the last POST answered) and how many events were dropped. The log lines are built but not
 * printed: a terminal would measure itself.
 */
async function emitterRound(): Promise<{ rate: number; dropped: number; emitUs: number }> {
  let received = 0
  const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, async (req) => {
    received += ((await req.json()) as { events: unknown[] }).events.length
    return new Response(null, { status: 204 })
  })
  try {
    const metrics = createUsageMetrics({
      functionName: 'bench',
      env: {
        ENABLE_USAGE_METRICS: true,
        METRICS_WEBHOOK_URL: `http://127.0.0.1:${server.addr.port}/`,
      },
      log: () => {},
    })
    const total = EMIT_RATE * EMIT_SECONDS
    const perTick = EMIT_RATE / 100
    let emitMs = 0
    const start = performance.now()
    for (let sent = 0; sent < total; sent += perTick) {
      const due = start + (sent / EMIT_RATE) * 1000
      const wait = due - performance.now()
      if (wait > 0) await new Promise((r) => setTimeout(r, wait))
      const t0 = performance.now()
      for (let i = 0; i < perTick; i++) {
        metrics.storageOp({ op: 'upload', bucket: 'legacy', duration_ms: i, ok: true })
      }
      emitMs += performance.now() - t0
    }
    await metrics.flush()
    const elapsed = (performance.now() - start) / 1000
    if (received + metrics.stats.dropped + metrics.stats.failed !== total) {
      throw new Error(`events unaccounted for: ${received} ${JSON.stringify(metrics.stats)}`)
    }
    return {
      rate: received / elapsed,
      dropped: metrics.stats.dropped + metrics.stats.failed,
      emitUs: (emitMs * 1000) / total,
    }
  } finally {
    await server.shutdown()
  }
}

async function emitterFigures(): Promise<Figure[]> {
  const rounds = []
  for (let i = 0; i < EMITTER_ROUNDS; i++) rounds.push(await emitterRound())
  const rate = median(rounds.map((r) => r.rate))
  const dropped = median(rounds.map((r) => r.dropped))
  return [
    {
      name: `usage metrics delivered at ${EMIT_RATE}/s offered, local webhook`,
      value: Math.round(rate),
      unit: 'events/s',
      target: `>= ${EMIT_RATE * 0.95}, 0 lost`,
      // Delivery is measured to the last POST's answer, so a whole run a few ms behind the
      // offered rate still kept up; what must not happen is a dropped or failed event.
      ok: rate >= EMIT_RATE * 0.95 && dropped === 0,
      note: `${dropped} dropped or failed`,
    },
    {
      name: 'usage metrics emit() cost per event',
      value: round(median(rounds.map((r) => r.emitUs)), 2),
      unit: 'µs',
      target: 'info',
      ok: true,
    },
  ]
}

export const bench: Bench = {
  name: 'observability',
  async run(ctx) {
    ctx.log('observability: span overhead on in-process requests')
    const figures = await spanOverhead(ctx)
    figures.push(...await viewFigures(ctx))
    ctx.log('observability: usage metrics emitter into a local webhook')
    figures.push(...await emitterFigures())
    return figures
  },
}
