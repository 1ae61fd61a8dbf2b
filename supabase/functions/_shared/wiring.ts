// What every function's app factory takes (AppDeps) and how it fills in what the caller left
// out, so each index.ts is `createXApp({ sql, env, … })` and each test swaps in only what it needs.
import type { MiddlewareHandler } from 'hono'
import { createTokenVerifier, type TokenVerifier } from './auth.ts'
import type { Sql } from './db.ts'
import type { Env } from './env.ts'
import { createApp, type RequestRecord } from './http.ts'
import { createUsageMetrics, type MetricsEnv, type UsageMetrics } from './metrics.ts'
import { createErrorReporter, type SentryEnv } from './sentry.ts'
import { createSpanRecorder, requestSpan, type SpanRecorder, sqlSpanWriter } from './spans.ts'

/**
 * A clock reading in milliseconds, injectable so tests control time. Code that measures spans
 * (budgets, deadlines, durations) defaults to performance.now, which is monotonic; code that
 * stamps a moment defaults to Date.now (milliseconds since the Unix epoch).
 */
export type Clock = () => number

/** The dependencies every app factory takes, besides its own. */
export interface AppDeps<E extends Partial<Env> = Env> {
  /** The function's one database client (index.ts: `createDb(env.SUPABASE_DB_URL)`). */
  sql: Sql
  /** The parsed environment, or the slice of it the app reads. */
  env: E
  /** The app's clock; each app documents which default it uses. */
  now?: Clock
  /** Where request spans go. Default: batches into ops.record_spans over `sql`. */
  spans?: SpanRecorder
  /** Usage metrics. Default: from env's ENABLE_USAGE_METRICS and METRICS_* settings. */
  metrics?: UsageMetrics
}

/** What a verifier is built from. */
export type VerifierEnv = Pick<Env, 'JWT_SECRET' | 'SUPABASE_JWKS'>

/** The dependencies of an app whose routes check the caller's JWT. */
export interface AuthedAppDeps<E extends VerifierEnv = Env> extends AppDeps<E> {
  /** Checks bearer tokens. Default: one built from env's JWT_SECRET and SUPABASE_JWKS. */
  verifier?: TokenVerifier
}

/** The injected verifier, or the one the project's keys in env make. */
export function verifierFor(deps: { env: VerifierEnv; verifier?: TokenVerifier }): TokenVerifier {
  return deps.verifier ??
    createTokenVerifier({ jwtSecret: deps.env.JWT_SECRET, jwks: deps.env.SUPABASE_JWKS })
}

/** What createFunctionApp reads from the environment; every setting has a default. */
export type ObservabilityEnv = SentryEnv & MetricsEnv

/** Context variables every function's handlers get. */
export type FunctionVars = {
  /** The function's usage metrics (a no-op when they are off), e.g. for its worker runs. */
  metrics: UsageMetrics
}

/**
 * A function's Hono app under `/<name>`: every request leaves a span in public.kernel_spans
 * (off the response path), 401/403 answers become auth-failure metrics, unexpected errors go to
 * Sentry (when SENTRY_DSN is set), and handlers find the usage metrics in `c.var.metrics`.
 * Takes the app's own deps: `createFunctionApp('<name>', deps)`.
 */
export function createFunctionApp<V extends object = Record<never, never>>(
  name: string,
  deps: Pick<AppDeps<ObservabilityEnv>, 'sql' | 'env' | 'spans' | 'metrics'>,
) {
  const spans = deps.spans ?? createSpanRecorder({ write: sqlSpanWriter(deps.sql) })
  const metrics = deps.metrics ?? createUsageMetrics({ functionName: name, env: deps.env })
  const app = createApp<V & FunctionVars>(name, {
    reportError: createErrorReporter(deps.env),
    observe: (record) => observeRequest(record, spans, metrics),
  })
  const provideMetrics: MiddlewareHandler<{ Variables: FunctionVars }> = (c, next) => {
    c.set('metrics', metrics)
    return next()
  }
  app.use(provideMetrics)
  return app
}

function observeRequest(record: RequestRecord, spans: SpanRecorder, metrics: UsageMetrics) {
  const { app, route, status } = record
  spans.record(requestSpan({ ...record, path: app, function: app }))
  if (status === 401 || status === 403) {
    metrics.authFailure({ status, route, reason: record.failure?.message.slice(0, 200) })
  }
}
