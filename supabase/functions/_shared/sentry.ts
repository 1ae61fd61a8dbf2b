// Sends unexpected errors to Sentry when SENTRY_DSN is set; otherwise reporting is a no-op.
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
}

/** Returns the reporter to pass to createApp's `reportError`. */
export function createErrorReporter(
  env: Pick<Env, 'SENTRY_DSN'>,
  { loadSdk = () => import('@sentry/deno') }: ErrorReporterOptions = {},
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

  return (err, ctx) => {
    load()
      .then((Sentry) => {
        Sentry.withScope((scope) => {
          scope.setTags({ app: ctx.app, request_id: ctx.requestId })
          scope.setContext('request', { method: ctx.method, path: ctx.path })
          Sentry.captureException(err)
        })
      })
      .catch((reportErr) => console.error('sentry: could not report error:', reportErr))
  }
}
