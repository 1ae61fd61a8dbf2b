// GET /health: liveness of the function and the database, for uptime monitors and the smoke test.
// GET /health/metrics: the kernel's state for Prometheus (metrics.ts), behind its own auth check.
import { z } from 'zod'
import { DeadlineError, withDeadline } from '../_shared/deadline.ts'
import type { Env } from '../_shared/env.ts'
import { KERNEL_VERSION } from '../_shared/version.ts'
import { type AuthedAppDeps, createFunctionApp, verifierFor } from '../_shared/wiring.ts'
import { EXPOSITION_CONTENT_TYPE, renderExposition } from './exposition.ts'
import { requireScraper, scrape } from './metrics.ts'

/**
 * GET /health is public; /health/metrics takes METRICS_BEARER or the service_role key, checked
 * with `verifier` (default: one from JWT_SECRET / SUPABASE_JWKS, built on the first scrape).
 * `now` stamps the answer's `time`; default Date.now (epoch ms).
 */
export interface HealthDeps extends
  AuthedAppDeps<
    Pick<Env, 'SENTRY_DSN' | 'JWT_SECRET' | 'SUPABASE_JWKS' | 'METRICS_BEARER'>
  > {
  /** Longest the database part may take before we answer 503. Default 2500 ms. */
  deadlineMs?: number
  /** Longest each metrics source may take before it is reported down. Default 5000 ms. */
  metricsDeadlineMs?: number
}

// Under Prometheus's default scrape timeout (10 s), with room for the slowest view.
export const DEFAULT_METRICS_DEADLINE_MS = 5000

// Below typical uptime-monitor timeouts (5-10 s), above a cold connection to a healthy database.
export const DEFAULT_DEADLINE_MS = 2500

// The part of public.health_check()'s report this endpoint relies on; the rest passes through.
const reportSchema = z.object({
  // health_check() reports the latest applied migration as its app version.
  app: z.looseObject({ version: z.string() }).optional(),
  database: z.looseObject({
    status: z.string().optional(),
    version: z.string(),
    tables: z.unknown(),
  }),
  rls: z.unknown(),
})

type DatabaseFailure = { status: 'unreachable' | 'error'; error: string }

/**
 * A short, fixed description of why the database check failed. Driver messages are not used:
 * they can carry hosts, users or query text.
 */
function describeFailure(err: unknown): DatabaseFailure {
  if (err instanceof DeadlineError) return { status: 'unreachable', error: 'timeout' }
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined
  switch (code) {
    case 'ECONNREFUSED':
      return { status: 'unreachable', error: 'connection refused' }
    case 'CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return { status: 'unreachable', error: 'connect timeout' }
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { status: 'unreachable', error: 'host not found' }
    case 'ECONNRESET':
    case 'CONNECTION_CLOSED':
    case 'CONNECTION_ENDED':
    case 'CONNECTION_DESTROYED':
      return { status: 'unreachable', error: 'connection closed' }
    case '28P01':
    case '28000':
      return { status: 'unreachable', error: 'authentication failed' }
    case '3D000':
      return { status: 'unreachable', error: 'database does not exist' }
    case '57P03':
      return { status: 'unreachable', error: 'database starting up' }
    case '42883':
      return { status: 'error', error: 'public.health_check() is missing' }
    case '42501':
      return { status: 'error', error: 'permission denied for public.health_check()' }
  }
  if (err instanceof z.ZodError) {
    return { status: 'error', error: 'unexpected health_check() report' }
  }
  return {
    status: 'error',
    error: typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)
      ? `postgres error ${code}`
      : 'error',
  }
}

const roundMs = (ms: number) => Math.round(ms * 10) / 10

export function createHealthApp(deps: HealthDeps) {
  const { sql, env, deadlineMs = DEFAULT_DEADLINE_MS, now = Date.now } = deps
  const metricsDeadlineMs = deps.metricsDeadlineMs ?? DEFAULT_METRICS_DEADLINE_MS
  const app = createFunctionApp('health', deps)

  // A cached "ok" would hide an outage from the monitor that asked.
  app.use(async function noStore(c, next) {
    await next()
    c.header('cache-control', 'no-store')
  })

  // HEAD is served by this route too (Hono answers HEAD with the GET handler, minus the body).
  app.get('/', async (c) => {
    const appPart = { status: 'ok', version: KERNEL_VERSION, time: new Date(now()).toISOString() }
    const start = performance.now()
    try {
      const rows = await withDeadline(
        sql<{ report: unknown }[]>`select public.health_check() as report`,
        deadlineMs,
      )
      const latency_ms = roundMs(performance.now() - start)
      const report = reportSchema.parse(rows[0]?.report)
      const status = report.database.status ?? 'ok'
      return c.json({
        app: appPart,
        database: {
          status,
          version: report.database.version,
          // Which migration is live, so a deploy can be checked against the schema it needs.
          schema_version: report.app?.version ?? 'unknown',
          latency_ms,
          tables: report.database.tables,
        },
        rls: report.rls,
      }, status === 'ok' ? 200 : 503)
    } catch (err) {
      const latency_ms = roundMs(performance.now() - start)
      const failure = describeFailure(err)
      console.error(`[health] ${c.get('requestId')} database check failed: ${failure.error}`)
      return c.json({ app: appPart, database: { ...failure, latency_ms }, rls: null }, 503)
    }
  })

  app.get(
    '/metrics',
    requireScraper({ bearer: env.METRICS_BEARER, verifier: () => verifierFor(deps) }),
    async (c) => {
      const families = await scrape(sql, { deadlineMs: metricsDeadlineMs })
      return c.body(renderExposition(families), 200, { 'content-type': EXPOSITION_CONTENT_TYPE })
    },
  )

  return app
}
