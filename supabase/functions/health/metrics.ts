// GET /health/metrics: the kernel's state in Prometheus text format, for operators who scrape it
// (docs/prometheus.md). Each source is one read of a runbook view or table, run in parallel under
// a deadline; a source that fails or is not installed yet only reports
// edge_kernel_metrics_source_up{source} 0, so one broken view never blanks the whole scrape.
import type { MiddlewareHandler } from 'hono'
import {
  bearerToken,
  requireServiceRole,
  type ServiceVars,
  type TokenVerifier,
} from '../_shared/auth.ts'
import type { Sql, Tx } from '../_shared/db.ts'
import { withDeadline } from '../_shared/deadline.ts'
import { unauthorized } from '../_shared/errors.ts'
import { histogramSamples, type Labels, type MetricFamily, type Sample } from './exposition.ts'

type Row = Record<string, unknown>

/** One read and the families it feeds; `families([])` declares them when the read failed. */
interface Source {
  name: string
  read: (sql: Tx) => Promise<Row[]>
  families: (rows: Row[]) => MetricFamily[]
}

/**
 * Where the request latency histogram puts its `le` bounds, in milliseconds. Each becomes the
 * nearest boundary at or above it of the database's own latency buckets (ops.latency_bucket:
 * 16 per doubling, so within 4.4 %), which is what makes every count exact: it is read off the
 * per-minute rollups, never by rescanning the hour's spans.
 */
export const LATENCY_BUCKETS_MS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]

// postgres.js returns bigint and numeric as strings; null stays null (no sample).
const num = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value)
const flag = (value: unknown): number => (value === true ? 1 : 0)

/** A gauge family from rows, one sample per row whose value is not null. */
function gauge(
  name: string,
  help: string,
  rows: Row[],
  labels: (row: Row) => Labels,
  value: (row: Row) => number | null,
): MetricFamily {
  const samples: Sample[] = []
  for (const row of rows) {
    const v = value(row)
    if (v !== null && !Number.isNaN(v)) samples.push({ labels: labels(row), value: v })
  }
  return { name, type: 'gauge', help, samples }
}

const QUEUES = ['events_queue', 'marketplace_discovery_queue'] as const

const queueLabels = (row: Row): Labels =>
  row.topic === null
    ? { queue: String(row.queue), status: String(row.status) }
    : { queue: String(row.queue), topic: String(row.topic), status: String(row.status) }

const queues: Source = {
  name: 'queues',
  read: (sql) =>
    sql`
      select 'events_queue' as queue, h.topic, h.status, h.items, h.p95_age_sec, h.oldest_age_sec
        from public.vw_events_queue_health h
      union all
      select 'marketplace_discovery_queue', null, h.status, h.items, h.p95_age_sec,
             h.oldest_age_sec
        from public.vw_discovery_queue_health h`,
  families: (rows) => {
    // The dead-letter queue is each queue's `error` rows; both queues always get a sample.
    const dead = new Map<string, number>(QUEUES.map((q) => [q, 0]))
    for (const row of rows) {
      if (row.status === 'error') {
        dead.set(String(row.queue), (dead.get(String(row.queue)) ?? 0) + Number(row.items))
      }
    }
    return [
      gauge(
        'edge_kernel_queue_jobs',
        'Jobs per queue, topic and status (done counts are estimates on large tables).',
        rows,
        queueLabels,
        (r) => num(r.items),
      ),
      gauge(
        'edge_kernel_queue_p95_age_seconds',
        '95th percentile of how long jobs have been runnable, per queue, topic and status.',
        rows,
        queueLabels,
        (r) => num(r.p95_age_sec),
      ),
      gauge(
        'edge_kernel_queue_oldest_age_seconds',
        'Age of the oldest runnable job, per queue, topic and status.',
        rows,
        queueLabels,
        (r) => num(r.oldest_age_sec),
      ),
      {
        name: 'edge_kernel_dead_letter_jobs',
        type: 'gauge',
        help: 'Jobs in the dead-letter queue (status error), per queue.',
        samples: [...dead].map(([queue, value]) => ({ labels: { queue }, value })),
      },
    ]
  },
}

// The last hour per path from the database's exact window functions (the rollups for whole
// minutes, raw spans for the partial ones): totals, and for each bound the spans in the latency
// buckets at or below it, cumulative as the format requires. The bounds are constants.
const REQUESTS_SQL = `
  with t as (
    select x.path, x.requests, x.errors, x.sum_ms
      from ops.kernel_span_totals(pg_catalog.now(), array[interval '1 hour']) x
     where x.requests > 0
  ), h as (
    select g.path, g.bucket, g.requests
      from ops.kernel_span_histogram(pg_catalog.now(), interval '1 hour') g
  ), b as (
    select ops.latency_bucket(u.ms) as bucket,
           ops.latency_bucket_upper(ops.latency_bucket(u.ms)) / 1000 as le
      from (values ${LATENCY_BUCKETS_MS.map((ms) => `(${ms}::double precision)`).join(', ')})
           as u(ms)
  ), c as (
    -- One join of (paths × buckets) with the bounds: cumulative counts per path and bound.
    select h.path, b.bucket, sum(h.requests) as requests
      from b join h on h.bucket <= b.bucket
     group by h.path, b.bucket
  )
  select t.path, t.requests, t.errors, t.sum_ms,
         (select pg_catalog.jsonb_agg(
                   pg_catalog.jsonb_build_array(b.le, coalesce(c.requests, 0)) order by b.bucket)
            from b left join c on c.path = t.path and c.bucket = b.bucket) as buckets
    from t
   order by t.path`

// Bounds like 0.00515247… s read better, and compare the same, at six significant digits.
const roundBound = (seconds: number) => Number(seconds.toPrecision(6))

const requests: Source = {
  name: 'requests',
  read: (sql) => sql.unsafe<Row[]>(REQUESTS_SQL),
  families: (rows) => [
    gauge(
      'edge_kernel_requests_1h',
      'Requests per path over the last hour (function name, rpc.<fn>, or a client path).',
      rows,
      (r) => ({ path: String(r.path) }),
      (r) => num(r.requests),
    ),
    gauge(
      'edge_kernel_request_errors_1h',
      'Requests per path over the last hour that were not ok (5xx, or reported failed).',
      rows,
      (r) => ({ path: String(r.path) }),
      (r) => num(r.errors),
    ),
    {
      name: 'edge_kernel_request_duration_seconds',
      type: 'histogram',
      help: 'Request latency per path over the last hour (a sliding window: use ' +
        'histogram_quantile on it directly, not on rate()).',
      samples: rows.flatMap((r) => {
        const buckets = r.buckets as [number, number][]
        return histogramSamples(
          { path: String(r.path) },
          buckets.map(([le]) => roundBound(le)),
          buckets.map(([, count]) => Number(count)),
          Number(r.sum_ms) / 1000,
          Number(r.requests),
        )
      }),
    },
  ],
}

const burnLabels = (r: Row): Labels => ({
  path: String(r.path),
  long_window: String(r.long_window),
  short_window: String(r.short_window),
})

const burnRates: Source = {
  name: 'burn_rates',
  read: (sql) =>
    sql`
      select b.path, b.long_window::text as long_window, b.short_window::text as short_window,
             b.burn_rate, b.short_burn_rate, b.threshold, b.requests, b.firing
        from public.vw_slo_burnrate b`,
  families: (rows) => [
    gauge(
      'edge_kernel_slo_burn_rate',
      'Error-budget burn rate over the long window of each window pair.',
      rows,
      burnLabels,
      (r) => num(r.burn_rate),
    ),
    gauge(
      'edge_kernel_slo_short_burn_rate',
      'Error-budget burn rate over the short window of each window pair.',
      rows,
      burnLabels,
      (r) => num(r.short_burn_rate),
    ),
    gauge(
      'edge_kernel_slo_burn_threshold',
      'Burn rate at which the window pair fires.',
      rows,
      burnLabels,
      (r) => num(r.threshold),
    ),
    gauge(
      'edge_kernel_slo_burn_firing',
      '1 when both windows burn above the threshold with enough traffic, else 0.',
      rows,
      burnLabels,
      (r) => flag(r.firing),
    ),
  ],
}

const alertLabels = (r: Row): Labels => ({ rule: String(r.rule), severity: String(r.severity) })

const alerts: Source = {
  name: 'alerts',
  read: (sql) =>
    sql`select a.rule, a.severity, a.value, a.threshold, a.firing from public.vw_alerts a`,
  families: (rows) => [
    gauge(
      'edge_kernel_alert_firing',
      '1 while the alert rule fires, else 0.',
      rows,
      alertLabels,
      (r) => flag(r.firing),
    ),
    gauge(
      'edge_kernel_alert_value',
      'The value the alert rule last compared with its threshold (absent: no data).',
      rows,
      alertLabels,
      (r) => num(r.value),
    ),
    gauge(
      'edge_kernel_alert_threshold',
      "The alert rule's threshold.",
      rows,
      alertLabels,
      (r) => num(r.threshold),
    ),
  ],
}

const policyLabels = (r: Row): Labels => ({ policy: String(r.policy) })

const policies: Source = {
  name: 'policies',
  read: (sql) =>
    sql`
      select p.policy, p.events, p.exploration_rate, p.expected_exploration_rate, p.epsilon
        from public.vw_policy_health p`,
  families: (rows) => [
    gauge(
      'edge_kernel_policy_exploration_rate',
      'Share of ranked slots that explored, per policy, last 24 hours.',
      rows,
      policyLabels,
      (r) => num(r.exploration_rate),
    ),
    gauge(
      'edge_kernel_policy_expected_exploration_rate',
      'Exploration rate epsilon-greedy should show given the logged epsilon and slate sizes.',
      rows,
      policyLabels,
      (r) => num(r.expected_exploration_rate),
    ),
    gauge(
      'edge_kernel_policy_epsilon',
      'Mean epsilon of the ranked slots, per policy, last 24 hours.',
      rows,
      policyLabels,
      (r) => num(r.epsilon),
    ),
    gauge(
      'edge_kernel_policy_events_24h',
      'Ranked slots logged per policy, last 24 hours.',
      rows,
      policyLabels,
      (r) => num(r.events),
    ),
  ],
}

const flags: Source = {
  name: 'flags',
  // Only flags with a boolean "enabled" have an on/off state (ranker.policy, say, has none).
  read: (sql) =>
    sql`
      select f.key, (f.value ->> 'enabled')::boolean as enabled
        from public.feature_flags f
       where pg_catalog.jsonb_typeof(f.value -> 'enabled') = 'boolean'
       order by f.key`,
  families: (rows) => [
    gauge(
      'edge_kernel_flag_enabled',
      'Feature flag state, 1 on and 0 off (percentage rollouts: whether the flag is on at all).',
      rows,
      (r) => ({ key: String(r.key) }),
      (r) => flag(r.enabled),
    ),
  ],
}

export const SOURCES: readonly Source[] = [queues, requests, burnRates, alerts, policies, flags]

export interface ScrapeOptions {
  /** Longest each source may take before it counts as down. */
  deadlineMs: number
}

/** Reads every source and returns the families, each source's up state and the scrape time. */
export async function scrape(sql: Sql, { deadlineMs }: ScrapeOptions): Promise<MetricFamily[]> {
  const start = performance.now()
  const results = await Promise.all(SOURCES.map(async (source) => {
    const began = performance.now()
    const seconds = () => (performance.now() - began) / 1000
    try {
      const rows = await withDeadline(
        sql.begin(async (tx) => {
          // The views' function scans carry default row estimates that push their cost past
          // jit_above_cost; compiling them costs more than running them (~400 ms measured).
          await tx`select pg_catalog.set_config('jit', 'off', true)`
          return await source.read(tx)
        }),
        deadlineMs,
      )
      return { source, rows, up: true, seconds: seconds() }
    } catch (err) {
      const code = (err as { code?: unknown }).code
      console.error(
        `[health] metrics source ${source.name} failed: ${
          typeof code === 'string' ? code : (err as Error).name
        }`,
      )
      return { source, rows: [] as Row[], up: false, seconds: seconds() }
    }
  }))
  return [
    ...results.flatMap(({ source, rows }) => source.families(rows)),
    {
      name: 'edge_kernel_metrics_source_up',
      type: 'gauge',
      help: 'Whether each source of this scrape could be read (1) or failed (0).',
      samples: results.map(({ source, up }) => ({
        labels: { source: source.name },
        value: up ? 1 : 0,
      })),
    },
    {
      name: 'edge_kernel_metrics_source_duration_seconds',
      type: 'gauge',
      help: 'How long each source of this scrape took to read (or to fail).',
      samples: results.map(({ source, seconds }) => ({
        labels: { source: source.name },
        value: seconds,
      })),
    },
    {
      name: 'edge_kernel_metrics_scrape_duration_seconds',
      type: 'gauge',
      help: 'How long this scrape took to read its sources.',
      samples: [{ value: (performance.now() - start) / 1000 }],
    },
  ]
}

export interface ScraperAuthOptions {
  /** METRICS_BEARER, when set. */
  bearer?: string
  /** Builds the JWT verifier on first use; may throw when the project has no keys. */
  verifier: () => TokenVerifier
}

/**
 * Admits a scraper presenting METRICS_BEARER, or the service_role key. health is public at the
 * gateway (verify_jwt = false), so this route checks for itself.
 */
export function requireScraper(
  { bearer, verifier }: ScraperAuthOptions,
): MiddlewareHandler<{ Variables: ServiceVars }> {
  let guard: MiddlewareHandler<{ Variables: ServiceVars }> | undefined
  return async function requireScraper(c, next) {
    const token = bearerToken(c.req.header('authorization'))
    if (bearer !== undefined && await sameSecret(token, bearer)) return await next()
    if (guard === undefined) {
      let built: TokenVerifier
      try {
        built = verifier()
      } catch {
        // No JWT secret or key set: only METRICS_BEARER could ever be accepted.
        throw unauthorized('Invalid token')
      }
      guard = requireServiceRole({ verifier: built })
    }
    return await guard(c, next)
  }
}

/** Compares digests in constant time, so neither the content nor the length of the token leaks. */
async function sameSecret(given: string, expected: string): Promise<boolean> {
  const encode = (text: string) =>
    crypto.subtle.digest('SHA-256', new TextEncoder().encode(text)).then((d) => new Uint8Array(d))
  const [a, b] = await Promise.all([encode(given), encode(expected)])
  let diff = 0
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i]
  return diff === 0
}
