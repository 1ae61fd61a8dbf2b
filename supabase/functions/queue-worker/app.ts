// POST /queue-worker: drains one topic of public.events_queue. pg_cron calls it every minute per
// scheduled topic (ops.schedule_queue_topic) with the service_role key from Vault; operators may
// call it by hand. Body {"topic", "limit", "ttl"} (plus "call_id" when ops.dispatch_worker posted
// it, which the call's result is recorded under); answers {processed, errors, dead_lettered,
// duration_ms}.
import { z } from 'zod'
import { requireServiceRole, type ServiceVars } from '../_shared/auth.ts'
import { callIdField, recordCallResult } from '../_shared/dispatch.ts'
import { drainQueue } from '../_shared/drain.ts'
import { parseJsonBody } from '../_shared/http.ts'
import { eventsQueue } from '../_shared/lease.ts'
import { type AuthedAppDeps, createFunctionApp, verifierFor } from '../_shared/wiring.ts'
import { DEFAULT_CONFIG, type QueueWorkerConfig } from './config.ts'
import type { Registry } from './registry.ts'

/** `env` is whole: handlers get it. `now` (monotonic) times the budget; default drainQueue's. */
export interface QueueWorkerDeps extends AuthedAppDeps {
  /** Topic → handler; index.ts passes productionRegistry(), tests their own. */
  registry: Registry
  /** Budget, concurrency and handler timeout; index.ts passes loadQueueWorkerConfig(). */
  config?: Partial<QueueWorkerConfig>
}

/** Defaults when the body leaves them out (the cron body always sets both). */
export const DEFAULT_LIMIT = 100
export const DEFAULT_TTL_SECONDS = 120

/**
 * The body. Unknown fields are refused, so a typo (`"limt"`) is a 400 rather than a silently
 * ignored setting; an unregistered topic is a 400 too, since no run could ever handle it.
 */
export function workerBodySchema(registry: Registry) {
  return z.strictObject({
    topic: z.string({ error: 'required' }).min(1, { error: 'required' }).refine(
      (topic) => registry.has(topic),
      { error: (issue) => `unregistered topic ${JSON.stringify(issue.input)}` },
    ),
    /** Most jobs to run in this call. */
    limit: z.int({ error: 'must be an integer' })
      .min(1, { error: 'must be between 1 and 1000' })
      .max(1000, { error: 'must be between 1 and 1000' })
      .default(DEFAULT_LIMIT),
    /** Lease time, seconds. */
    ttl: z.int({ error: 'must be an integer' })
      .min(5, { error: 'must be between 5 and 3600' })
      .max(3600, { error: 'must be between 5 and 3600' })
      .default(DEFAULT_TTL_SECONDS),
    /** Set by the dispatcher: this call's row in ops.queue_dispatch_calls. */
    call_id: callIdField,
  }, {
    // Only the type error is reworded; unknown keys keep zod's message, which names them.
    error: (issue) => issue.code === 'invalid_type' ? 'must be a JSON object' : undefined,
  })
}

export function createQueueWorkerApp(deps: QueueWorkerDeps) {
  const { sql, env, registry, now } = deps
  const config = { ...DEFAULT_CONFIG, ...deps.config }
  const verifier = verifierFor(deps)
  const bodySchema = workerBodySchema(registry)
  const app = createFunctionApp<ServiceVars>('queue-worker', deps)

  app.post('/', requireServiceRole({ verifier }), async (c) => {
    const body = await parseJsonBody(c, bodySchema)
    // Registered: the schema refused anything else.
    const registration = registry.get(body.topic)!
    const result = await drainQueue({
      queue: eventsQueue(sql, body.topic),
      // `signal` is passed through as a getter: drainQueue makes a job's AbortController only
      // when its handler reads it, which a no-op never does.
      handle: (job, ctx) =>
        registration.handle(job, {
          get signal() {
            return ctx.signal
          },
          extendLease: (seconds) => ctx.extendLease(seconds),
          sql,
          env,
        }),
      limit: body.limit,
      ttlSeconds: body.ttl,
      // Lease in batches big enough that round trips do not dominate no-op-sized jobs, small
      // enough that one lost worker strands few jobs until their lease expires.
      batchSize: Math.min(body.limit, 500),
      concurrency: registration.concurrency ?? config.concurrency,
      handlerTimeoutMs: registration.timeoutMs ?? config.handlerTimeoutMs,
      budgetMs: config.budgetMs,
      worker: `queue-worker/${c.get('requestId')}`,
      now,
      // A caller that gives up (cron's timeout, an operator's Ctrl-C) cancels the lease query
      // and stops the run, so its database session is not left waiting for no one.
      signal: c.req.raw.signal,
    })
    if (body.call_id) await recordCallResult(sql, body.call_id, body.topic, result)
    c.var.metrics.workerRun({ topic: body.topic, ...result })
    return c.json(result)
  })

  return app
}
