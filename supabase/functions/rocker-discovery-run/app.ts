// POST /rocker-discovery-run: the discovery worker. pg_cron calls it every 5 minutes (service_role
// key from Vault); operators may call it by hand. Leases discovery items, assesses each interest's
// categories for gaps, acks or fails the items, and reports what it did.
import { z } from 'zod'
import { requireServiceRole, type ServiceVars, type TokenVerifier } from '../_shared/auth.ts'
import type { Sql } from '../_shared/db.ts'
import type { Env } from '../_shared/env.ts'
import { createApp, parseJsonBody } from '../_shared/http.ts'
import { createErrorReporter } from '../_shared/sentry.ts'
import type { DiscoveryConfig } from './config.ts'
import { type DiscoveryStore, runDiscovery } from './run.ts'
import { createDiscoveryStore } from './store.ts'

export interface DiscoveryRunDeps {
  sql: Sql
  verifier: TokenVerifier
  config: DiscoveryConfig
  env: Pick<Env, 'SENTRY_DSN'>
  /** Storage; default the Postgres store over `sql`. Tests inject their own. */
  store?: DiscoveryStore
  /** Time budget per request in ms; default run.ts's DEFAULT_BUDGET_MS. */
  budgetMs?: number
}

/**
 * The request body; all fields optional and an empty body is fine. Unknown fields are refused
 * so a typo (`"limt"`) is a 400 rather than a silently ignored setting.
 */
export const runBodySchema = z.strictObject({
  /** Most items to handle in this call. */
  limit: z.int().min(1).max(1000).default(100),
  /** Lease time per batch, seconds. */
  ttl: z.int().min(5).max(3600).default(120),
  /** Overrides DISCOVERY_GAP_THRESHOLD for this call (e.g. a one-off stricter sweep). */
  threshold: z.int().min(1).max(1000).optional(),
}).prefault({})

export function createDiscoveryRunApp(deps: DiscoveryRunDeps) {
  const { sql, verifier, config, env, budgetMs } = deps
  const store = deps.store ?? createDiscoveryStore(sql)
  const app = createApp<ServiceVars>('rocker-discovery-run', {
    reportError: createErrorReporter(env),
  })

  app.post('/', requireServiceRole({ verifier }), async (c) => {
    const body = await parseJsonBody(c, runBodySchema)
    const result = await runDiscovery(store, {
      limit: body.limit,
      ttlSeconds: body.ttl,
      gapThreshold: body.threshold ?? config.gapThreshold,
      budgetMs,
    })
    return c.json(result)
  })

  return app
}
