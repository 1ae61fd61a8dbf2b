// The queue-worker's handlers, keyed by topic. The issue that defines a topic adds its handler
// module (queue-worker/handlers/<topic>.ts) and one line to PRODUCTION_HANDLERS below, plus a
// migration `select ops.schedule_queue_topic('<topic>')` so cron runs it every minute.
import type { Sql } from '../_shared/db.ts'
import type { Env } from '../_shared/env.ts'
import type { EventJob } from '../_shared/lease.ts'
import {
  DISCOVERY_USER_SIGNUP_TOPIC,
  discoveryUserSignup,
} from './handlers/discovery.user-signup.ts'

/** What a handler gets besides its job. */
export interface HandlerContext {
  /** Fires when the handler's time is up (its job is failed then); pass it to fetch() etc. */
  signal: AbortSignal
  /** The function's database client (connects as the project's postgres role). */
  sql: Sql
  env: Env
}

/** Runs one job; resolve to ack it, throw to fail it (last_error gets the message). */
export type TopicHandler<P = unknown> = (job: EventJob<P>, ctx: HandlerContext) => Promise<void>

export interface TopicRegistration<P = unknown> {
  handle: TopicHandler<P>
  /** Longest one job may run; default the worker's (30 s). Always cut to 80 % of the lease. */
  timeoutMs?: number
  /** Jobs of this topic run at once; default the worker's (8). */
  concurrency?: number
}

/** Topic → handler. Read-only once built; tests build their own with createRegistry. */
export type Registry = ReadonlyMap<string, TopicRegistration>

/** Builds a registry from `{ topic: handler }` or `{ topic: { handle, timeoutMs, … } }`. */
export function createRegistry(
  // deno-lint-ignore no-explicit-any
  entries: Record<string, TopicHandler<any> | TopicRegistration<any>>,
): Registry {
  return new Map(
    Object.entries(entries).map((
      [topic, entry],
    ) => [topic, typeof entry === 'function' ? { handle: entry } : entry]),
  )
}

/**
 * `ops.noop`: succeeds at once and does nothing. Built in for smoke tests (enqueue one, run the
 * worker, see it done), the bench, and checking a cron schedule end to end without side effects.
 */
export const NOOP_TOPIC = 'ops.noop'
export const noopHandler: TopicHandler = () => Promise.resolve()

/** The handlers deployed with the function. Add a topic's handler here in its own issue. */
const PRODUCTION_HANDLERS: Record<string, TopicHandler | TopicRegistration> = {
  [NOOP_TOPIC]: noopHandler,
  [DISCOVERY_USER_SIGNUP_TOPIC]: discoveryUserSignup,
}

export function productionRegistry(): Registry {
  return createRegistry(PRODUCTION_HANDLERS)
}
