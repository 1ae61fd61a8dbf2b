// The queue-worker's handlers, keyed by topic. A new topic adds its handler module
// (queue-worker/handlers/<topic>.ts) and one line to PRODUCTION_HANDLERS below, plus a migration
// `select ops.schedule_queue_topic('<topic>')` so cron runs it every minute.
import type { Sql } from '../_shared/db.ts'
import type { Env } from '../_shared/env.ts'
import type { EventJob } from '../_shared/lease.ts'
import {
  DISCOVERY_USER_SIGNUP_TOPIC,
  discoveryUserSignup,
} from './handlers/discovery.user-signup.ts'

/** What a handler gets besides its job. */
export interface HandlerContext {
  /**
   * Always provided. Fires at the job's deadline (its timeout, 80 % of its lease, or the end of
   * the run's budget, whichever is first); the job is failed with a timeout then, whether or not
   * the handler has stopped. Honour it: pass it to fetch(), run queries through
   * runCancellable (_shared/drain.ts), and check `signal.aborted` between steps.
   */
  signal: AbortSignal
  /**
   * A heartbeat for a job that outlives its lease: see JobContext.extendLease in
   * _shared/drain.ts (fenced by the lease token, cut to the run's budget; a lost lease fires
   * `signal`).
   */
  extendLease(seconds: number): Promise<boolean>
  /** The function's database client (connects as the project's postgres role). */
  sql: Sql
  env: Env
}

/**
 * Runs one job; resolve to ack it, throw to fail it (last_error gets the message).
 *
 * Handlers MUST be idempotent: a job can run more than once (a worker that dies before its ack,
 * a handler that ignores its signal and is still running when its timed-out job is retried).
 * They MUST honour `ctx.signal`: a handler that ignores it keeps running after its job was
 * failed, overlapping its own retry.
 */
export type TopicHandler<P = unknown> = (job: EventJob<P>, ctx: HandlerContext) => Promise<void>

export interface TopicRegistration<P = unknown> {
  handle: TopicHandler<P>
  /**
   * Longest one job may run, ms (≥ 1); default the worker's (30 s). Always cut to 80 % of the
   * lease and to the run's budget.
   */
  timeoutMs?: number
  /** Jobs of this topic run at once (an integer ≥ 1); default the worker's (8). */
  concurrency?: number
}

/** Topic → handler. Read-only once built; tests build their own with createRegistry. */
export type Registry = ReadonlyMap<string, TopicRegistration>

/**
 * Builds a registry from `{ topic: handler }` or `{ topic: { handle, timeoutMs, … } }`. Throws
 * a RangeError for a registration no run could use (no handler, concurrency not an integer ≥ 1,
 * timeoutMs < 1), so the mistake shows at startup rather than after rows were leased.
 */
export function createRegistry(
  // deno-lint-ignore no-explicit-any
  entries: Record<string, TopicHandler<any> | TopicRegistration<any>>,
): Registry {
  return new Map(
    Object.entries(entries).map(([topic, entry]) => {
      const registration = typeof entry === 'function' ? { handle: entry } : entry
      if (typeof registration?.handle !== 'function') {
        throw new RangeError(`topic ${JSON.stringify(topic)}: handle must be a function`)
      }
      const { concurrency, timeoutMs } = registration
      if (concurrency !== undefined && !(Number.isInteger(concurrency) && concurrency >= 1)) {
        throw new RangeError(
          `topic ${JSON.stringify(topic)}: concurrency must be an integer >= 1, got ${concurrency}`,
        )
      }
      if (timeoutMs !== undefined && !(timeoutMs >= 1)) {
        throw new RangeError(
          `topic ${JSON.stringify(topic)}: timeoutMs must be >= 1, got ${timeoutMs}`,
        )
      }
      return [topic, registration]
    }),
  )
}

/**
 * `ops.noop`: succeeds at once and does nothing. Built in for smoke tests (enqueue one, run the
 * worker, see it done), the bench, and checking a cron schedule end to end without side effects.
 */
export const NOOP_TOPIC = 'ops.noop'
export const noopHandler: TopicHandler = () => Promise.resolve()

/** The handlers deployed with the function, one line per topic. */
const PRODUCTION_HANDLERS: Record<string, TopicHandler | TopicRegistration> = {
  [NOOP_TOPIC]: noopHandler,
  [DISCOVERY_USER_SIGNUP_TOPIC]: discoveryUserSignup,
}

export function productionRegistry(): Registry {
  return createRegistry(PRODUCTION_HANDLERS)
}
