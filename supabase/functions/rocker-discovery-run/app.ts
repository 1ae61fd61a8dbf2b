// POST /rocker-discovery-run: the discovery worker. pg_cron calls it every 5 minutes (service_role
// key from Vault) through ops.dispatch_worker, which adds a "call_id" the call records its result
// under; operators may call it by hand. Leases discovery items, assesses each interest's
// categories for gaps, acks or fails the items, and reports what it did.
import { z } from 'zod'
import { requireServiceRole, type ServiceVars } from '../_shared/auth.ts'
import { callIdField, DISCOVERY_DISPATCH_TOPIC, recordCallResult } from '../_shared/dispatch.ts'
import type { Env } from '../_shared/env.ts'
import { parseJsonBody } from '../_shared/http.ts'
import { type DiscoveryItem, discoveryQueue, type LeasedQueue } from '../_shared/lease.ts'
import { type AuthedAppDeps, createFunctionApp, verifierFor } from '../_shared/wiring.ts'
import { assessInterests } from './assess.ts'
import type { DiscoveryConfig } from './config.ts'
import { type AssessInterests, runDiscovery } from './run.ts'

export interface DiscoveryRunDeps
  extends AuthedAppDeps<Pick<Env, 'SENTRY_DSN' | 'JWT_SECRET' | 'SUPABASE_JWKS'>> {
  /** index.ts passes loadDiscoveryConfig(). */
  config: DiscoveryConfig
  /** Default: the discovery queue over `sql`. Tests inject their own. */
  queue?: LeasedQueue<DiscoveryItem>
  /** Default: ops.discovery_assess_interests over `sql`. */
  assess?: AssessInterests
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
  /** Set by the dispatcher: this call's row in ops.queue_dispatch_calls. */
  call_id: callIdField,
}).prefault({})

export function createDiscoveryRunApp(deps: DiscoveryRunDeps) {
  const { sql, config, now } = deps
  const verifier = verifierFor(deps)
  const queue = deps.queue ?? discoveryQueue(sql)
  const assess = deps.assess ?? assessInterests(sql)
  const app = createFunctionApp<ServiceVars>('rocker-discovery-run', deps)

  app.post('/', requireServiceRole({ verifier }), async (c) => {
    const body = await parseJsonBody(c, runBodySchema)
    const result = await runDiscovery({ queue, assess }, {
      limit: body.limit,
      ttlSeconds: body.ttl,
      gapThreshold: body.threshold ?? config.gapThreshold,
      now,
      // A caller that gives up cancels the lease query and stops the run (see drainQueue).
      signal: c.req.raw.signal,
    })
    if (body.call_id) await recordCallResult(sql, body.call_id, DISCOVERY_DISPATCH_TOPIC, result)
    c.var.metrics.workerRun({ topic: 'discovery', ...result })
    return c.json(result)
  })

  return app
}
