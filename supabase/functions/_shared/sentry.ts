// Sends unexpected errors to Sentry when SENTRY_DSN is set; otherwise reporting is a no-op.
// Each error is captured in a scope of its own request (tagged with the function, the request
// id and, on Supabase, the region and execution id), then flushed through waitUntil, because
// an edge isolate may be frozen or ended as soon as its response has gone.
import { waitUntil } from './background.ts'
import type { Env } from './env.ts'
import type { ErrorReporter } from './http.ts'
import { KERNEL_VERSION } from './version.ts'

export type SentryModule = typeof import('@sentry/deno')

export interface ErrorReporterOptions {
  /**
   * Loads the SDK. Default: a dynamic import of `@sentry/deno`. Called at most once, on the first
   * error reported; tests pass a counting wrapper to see when (and whether) that happens.
   */
  loadSdk?: () => Promise<SentryModule>
  /** Runs the capture and flush past the response. Default background.ts's waitUntil. */
  schedule?: (work: Promise<unknown>) => void
  /** Longest the flush after a capture waits for Sentry. Default 2000 ms. */
  flushTimeoutMs?: number
}

/** What the reporter reads from the environment. */
export type SentryEnv = Partial<Pick<Env, 'SENTRY_DSN' | 'SB_REGION' | 'SB_EXECUTION_ID'>>

/** Returns the reporter to pass to createApp's `reportError`. */
export function createErrorReporter(
  env: SentryEnv,
  {
    loadSdk = () => import('@sentry/deno'),
    schedule = waitUntil,
    flushTimeoutMs = 2000,
  }: ErrorReporterOptions = {},
): ErrorReporter {
  const dsn = env.SENTRY_DSN
  if (dsn === undefined) return () => {}

  // Loaded on the first error, not at boot: most isolates never report anything, and cold start
  // time is paid on every new isolate.
  let sentry: Promise<SentryModule> | undefined
  const load = () =>
    sentry ??= loadSdk().then((Sentry) => {
      Sentry.init({
        dsn,
        release: `edge-kernel@${KERNEL_VERSION}`,
        // The default integrations hook process-wide handlers that the edge runtime does not
        // support; errors reach us through onError, so explicit capture is all we need.
        defaultIntegrations: false,
      })
      return Sentry
    })

  // Per isolate, not per request; absent off Supabase, and then not tagged at all.
  const runtimeTags: Record<string, string> = {}
  if (env.SB_REGION !== undefined) runtimeTags.region = env.SB_REGION
  if (env.SB_EXECUTION_ID !== undefined) runtimeTags.execution_id = env.SB_EXECUTION_ID

  return (err, ctx) => {
    const report = load()
      .then((Sentry) => {
        // A fresh scope per request, so one request's tags never leak into another's event.
        Sentry.withScope((scope) => {
          scope.setTags({ function: ctx.app, request_id: ctx.requestId, ...runtimeTags })
          scope.setContext('request', { method: ctx.method, path: ctx.path })
          Sentry.captureException(err)
        })
        return Sentry.flush(flushTimeoutMs)
      })
      .catch((reportErr) => console.error('sentry: could not report error:', reportErr))
    try {
      schedule(report)
    } catch (scheduleErr) {
      console.error('sentry: could not schedule the report:', scheduleErr)
    }
  }
}
