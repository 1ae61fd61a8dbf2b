// POST /hydrate-features: folds what happened since the last pass (learning_events past the
// watermark, rewards since, the touched users' interests and signals) into the feature store
// the ranker scores from. pg_cron calls it every 5 minutes with the service_role key; operators
// may call it by hand. The incremental, never-double-counting pass is ops.hydrate_features.
import { z } from 'zod'
import { requireServiceRole, type ServiceVars } from '../_shared/auth.ts'
import type { Env } from '../_shared/env.ts'
import { runCancellable } from '../_shared/drain.ts'
import { parseJsonBody } from '../_shared/http.ts'
import { type AuthedAppDeps, createFunctionApp, verifierFor } from '../_shared/wiring.ts'

export type HydrateFeaturesDeps = AuthedAppDeps<
  Pick<Env, 'SENTRY_DSN' | 'JWT_SECRET' | 'SUPABASE_JWKS'>
>

/** Events folded per call at most; a larger backlog is caught up over the next calls. */
export const DEFAULT_MAX_EVENTS = 100_000

/** The body; all optional, an empty body is fine, unknown fields are refused. */
export const hydrateBodySchema = z.strictObject({
  max_events: z.int({ error: 'must be an integer' })
    .min(1, { error: 'must be between 1 and 1000000' })
    .max(1_000_000, { error: 'must be between 1 and 1000000' })
    .default(DEFAULT_MAX_EVENTS),
}, { error: (issue) => issue.code === 'invalid_type' ? 'must be a JSON object' : undefined })
  .prefault({})

/** The answer; bigint columns come back from postgres.js as strings and are converted. */
export interface HydrateResult {
  events_read: number
  candidates_updated: number
  users_updated: number
  /** The last learning_events id counted so far. */
  watermark: number
}

export function createHydrateFeaturesApp(deps: HydrateFeaturesDeps) {
  const { sql } = deps
  const verifier = verifierFor(deps)
  const app = createFunctionApp<ServiceVars>('hydrate-features', deps)

  app.post('/', requireServiceRole({ verifier }), async (c) => {
    const start = performance.now()
    const body = await parseJsonBody(c, hydrateBodySchema)
    // A caller that gives up cancels the pass: it is one transaction, so nothing is half-folded.
    const [row] = await runCancellable(
      c.req.raw.signal,
      () =>
        sql<Record<keyof HydrateResult, string | number>[]>`
        select events_read, candidates_updated, users_updated, watermark
        from ops.hydrate_features(p_max_events => ${body.max_events}::int)`,
    )
    const result: HydrateResult = {
      events_read: Number(row.events_read),
      candidates_updated: Number(row.candidates_updated),
      users_updated: Number(row.users_updated),
      watermark: Number(row.watermark),
    }
    // A pass folds events rather than running jobs: what it read is what it processed.
    c.var.metrics.workerRun({
      topic: 'features',
      processed: result.events_read,
      errors: 0,
      duration_ms: Math.round(performance.now() - start),
      ...result,
    })
    return c.json(result)
  })

  return app
}
