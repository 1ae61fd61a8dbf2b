// GET /health/metrics: its own auth check (health is public at the gateway), output that parses
// as exposition format line by line, and (against the live test database) the queue, request,
// dead-letter and flag series carrying what was arranged.
import assert from 'node:assert/strict'
import { SignJWT } from 'jose'
import { createDb, type Sql } from '../_shared/db.ts'
import { NO_SPANS } from '../_shared/spans.ts'
import { adminSql } from '../../../local/testing.ts'
import { createHealthApp } from './app.ts'
import { LATENCY_BUCKETS_MS } from './metrics.ts'
import { type ParsedFamily, parseExposition } from './testing.ts'
import { deleteSpans } from '../_shared/spans_testing.ts'

const SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long'
const BEARER = 'prometheus-scrape-token-0123456789abcdef'
const DEAD_DB_URL = 'postgres://postgres:postgres@127.0.0.1:1/postgres'
const LIVE_DB_URL = Deno.env.get('SUPABASE_DB_URL')

const token = (role: string) =>
  new SignJWT({ role })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setExpirationTime('5m')
    .sign(new TextEncoder().encode(SECRET))

function healthApp(sql: Sql, env: Record<string, string> = {}) {
  return createHealthApp({ sql, env, spans: NO_SPANS, metricsDeadlineMs: 2000 })
}

/** Runs `fn` with a client whose database refuses connections (nothing listens on port 1). */
function withDeadDb(fn: (sql: Sql) => Promise<void>): () => Promise<void> {
  return async () => {
    const sql = createDb(DEAD_DB_URL)
    try {
      await fn(sql)
    } finally {
      await sql.end({ timeout: 0 })
    }
  }
}

async function scrapeText(app: ReturnType<typeof healthApp>, bearer: string) {
  const res = await app.request('/health/metrics', {
    headers: { authorization: `Bearer ${bearer}` },
  })
  assert.equal(res.status, 200)
  assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
  return await res.text()
}

/** The value of the one sample of `family` whose labels include `labels`. */
function valueOf(
  families: Map<string, ParsedFamily>,
  family: string,
  labels: Record<string, string>,
  sampleName = family,
): number | undefined {
  const matches =
    families.get(family)?.samples.filter((s) =>
      s.name === sampleName && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
    ) ?? []
  assert.ok(matches.length <= 1, `${family} ${JSON.stringify(labels)} matches several series`)
  return matches[0]?.value
}

Deno.test(
  'the metrics route refuses callers without the service_role key or the scrape token',
  withDeadDb(async (sql) => {
    const app = healthApp(sql, { JWT_SECRET: SECRET, METRICS_BEARER: BEARER })
    const none = await app.request('/health/metrics')
    assert.equal(none.status, 401)
    assert.equal(none.headers.get('www-authenticate'), 'Bearer')
    assert.equal((await none.json()).error.code, 'unauthorized')
    const wrong = await app.request('/health/metrics', {
      headers: { authorization: `Bearer ${BEARER}x` },
    })
    assert.equal(wrong.status, 401)
    assert.equal(wrong.headers.get('www-authenticate'), 'Bearer error="invalid_token"')
    await wrong.body?.cancel()
    for (const role of ['anon', 'authenticated']) {
      const res = await app.request('/health/metrics', {
        headers: { authorization: `Bearer ${await token(role)}` },
      })
      assert.equal(res.status, 403, role)
      await res.body?.cancel()
    }
    // The liveness route stays public.
    assert.equal((await app.request('/health')).status, 503)
  }),
)

Deno.test(
  'without any key configured only METRICS_BEARER can scrape; a JWT gets 401',
  withDeadDb(async (sql) => {
    const app = healthApp(sql, {})
    const res = await app.request('/health/metrics', {
      headers: { authorization: `Bearer ${await token('service_role')}` },
    })
    assert.equal(res.status, 401)
    await res.body?.cancel()
  }),
)

Deno.test(
  'with the database down the scrape still parses and reports every source down',
  withDeadDb(async (sql) => {
    const families = parseExposition(
      await scrapeText(healthApp(sql, { METRICS_BEARER: BEARER }), BEARER),
    )
    const up = families.get('edge_kernel_metrics_source_up')!.samples
    assert.deepEqual(
      up.map((s) => [s.labels.source, s.value]),
      ['queues', 'requests', 'burn_rates', 'alerts', 'policies', 'flags'].map((s) => [s, 0]),
    )
    // Families are declared even when empty, and the dead-letter gauge still reads 0 per queue.
    assert.equal(families.get('edge_kernel_queue_jobs')?.type, 'gauge')
    assert.equal(families.get('edge_kernel_request_duration_seconds')?.type, 'histogram')
    assert.equal(valueOf(families, 'edge_kernel_dead_letter_jobs', { queue: 'events_queue' }), 0)
  }),
)

Deno.test(
  'every series the Grafana dashboard queries is one the endpoint declares',
  withDeadDb(async (sql) => {
    const declared = parseExposition(
      await scrapeText(healthApp(sql, { METRICS_BEARER: BEARER }), BEARER),
    )
    const names = new Set<string>()
    for (const family of declared.values()) {
      names.add(family.name)
      if (family.type === 'histogram') {
        for (const suffix of ['_bucket', '_sum', '_count']) names.add(family.name + suffix)
      }
    }
    const dashboard = await Deno.readTextFile(
      new URL('../../../docs/grafana-edge-kernel.json', import.meta.url),
    )
    const used = new Set(dashboard.match(/edge_kernel_[a-z0-9_]+/g))
    assert.ok(used.size >= 10, `the dashboard queries ${used.size} series`)
    assert.deepEqual([...used].filter((name) => !names.has(name)), [])
  }),
)

Deno.test({
  name: 'a live scrape is valid exposition format and carries the queue, request and flag series',
  ignore: LIVE_DB_URL === undefined,
  async fn() {
    const admin = adminSql()
    const sql = createDb(LIVE_DB_URL!)
    const topic = `metrics.test.${crypto.randomUUID().slice(0, 8)}`
    const path = `metrics-test-${crypto.randomUUID().slice(0, 8)}`
    try {
      await admin`
        insert into public.events_queue (topic, payload, status, last_error)
        values (${topic}, '{}', 'queued', null), (${topic}, '{}', 'queued', null),
               (${topic}, '{}', 'queued', null), (${topic}, '{}', 'error', 'boom')`
      // Durations straddle the buckets: 3 ms, 7 ms, 30 ms, 200 ms (a 500), 20 s.
      const spans = [3, 7, 30, 200, 20000].map((duration_ms) => ({
        path,
        function: path,
        route: `/${path}`,
        status: duration_ms === 200 ? 500 : 200,
        duration_ms,
        ok: duration_ms !== 200,
      }))
      await admin`select ops.record_spans(p_spans => ${JSON.stringify(spans)}::text::jsonb)`

      const text = await scrapeText(
        healthApp(sql, { JWT_SECRET: SECRET }),
        await token('service_role'),
      )
      const families = parseExposition(text)
      for (const sample of families.get('edge_kernel_metrics_source_up')!.samples) {
        assert.equal(sample.value, 1, `source ${sample.labels.source} is up`)
      }
      const queued = { queue: 'events_queue', topic, status: 'queued' }
      assert.equal(valueOf(families, 'edge_kernel_queue_jobs', queued), 3)
      assert.equal(
        valueOf(families, 'edge_kernel_queue_jobs', { ...queued, status: 'error' }),
        1,
      )
      assert.ok(valueOf(families, 'edge_kernel_queue_p95_age_seconds', queued)! >= 0)
      assert.ok(valueOf(families, 'edge_kernel_dead_letter_jobs', { queue: 'events_queue' })! >= 1)
      assert.notEqual(
        valueOf(families, 'edge_kernel_queue_jobs', {
          queue: 'marketplace_discovery_queue',
          status: 'queued',
        }),
        undefined,
      )

      assert.equal(valueOf(families, 'edge_kernel_requests_1h', { path }), 5)
      assert.equal(valueOf(families, 'edge_kernel_request_errors_1h', { path }), 1)
      const hist = 'edge_kernel_request_duration_seconds'
      const buckets = families.get(hist)!.samples
        .filter((s) => s.name === `${hist}_bucket` && s.labels.path === path)
        .map((s) => [Number(s.labels.le.replace('+Inf', 'Infinity')), s.value])
      // Bounds at or just above 1, 2.5, 5, 10, 25, 50, 100, 250, 500 ms, 1, 2.5, 5, 10 s.
      assert.deepEqual(buckets.map(([, count]) => count), [
        0,
        0,
        1,
        2,
        2,
        3,
        3,
        4,
        4,
        4,
        4,
        4,
        4,
        5,
      ])
      buckets.slice(0, -1).forEach(([le], i) => {
        const target = LATENCY_BUCKETS_MS[i] / 1000
        assert.ok(le >= target && le < target * 1.045, `le ${le} for ${target}`)
      })
      assert.equal(valueOf(families, hist, { path }, `${hist}_count`), 5)
      assert.ok(Math.abs(valueOf(families, hist, { path }, `${hist}_sum`)! - 20.24) < 1e-6)

      assert.equal(valueOf(families, 'edge_kernel_flag_enabled', { key: 'global.safe_mode' }), 0)
      assert.equal(
        valueOf(families, 'edge_kernel_flag_enabled', { key: 'ranker.policy' }),
        undefined,
      )
      for (
        const family of [
          'edge_kernel_slo_burn_rate',
          'edge_kernel_alert_firing',
          'edge_kernel_policy_exploration_rate',
        ]
      ) {
        assert.equal(families.get(family)?.type, 'gauge', family)
      }
    } finally {
      await admin`delete from public.events_queue where topic = ${topic}`
      await deleteSpans(admin, path)
      await sql.end({ timeout: 1 })
      await admin.end({ timeout: 1 })
    }
  },
})
