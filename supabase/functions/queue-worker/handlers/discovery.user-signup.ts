// Topic 'discovery.user-signup': queued by the auth.users insert trigger (migration
// 20261122030100_discovery_queue.sql) with payload {"user_id": …}; queues one discovery item per
// interest of the user through public.enqueue_discovery_for_user, which rocker-discovery-run
// then works through.
import { z } from 'zod'
import { runCancellable } from '../../_shared/drain.ts'
import type { EventJob } from '../../_shared/lease.ts'
import type { HandlerContext, TopicHandler } from '../registry.ts'

export const DISCOVERY_USER_SIGNUP_TOPIC = 'discovery.user-signup'

/** The payload the trigger writes. Anything else is a bug upstream: fail the job, loudly. */
// z.guid, not z.uuid: zod's uuid() demands RFC 4122 version/variant bits, but Postgres (and
// auth.users) accept any 8-4-4-4-12 hex id, such as the seeded 00000000-…-000000000001 user.
export const payloadSchema = z.looseObject({
  user_id: z.guid({ error: 'payload.user_id must be a uuid' }),
})
export type DiscoveryUserSignupPayload = z.output<typeof payloadSchema>

/**
 * Resolves once the items are queued (possibly none: a user without interests yet, or whose
 * items are already queued — enqueue_discovery_for_user deduplicates). Safe to run twice.
 * Honours its signal: it does not start the query once the job's time is up, and cancels the
 * query if the time runs out while it runs.
 */
export const discoveryUserSignup: TopicHandler<unknown> = async (
  job: EventJob<unknown>,
  { sql, signal }: HandlerContext,
) => {
  const parsed = payloadSchema.safeParse(job.payload)
  if (!parsed.success) {
    throw new Error(
      `invalid ${DISCOVERY_USER_SIGNUP_TOPIC} payload: ${parsed.error.issues[0].message}`,
    )
  }
  await runCancellable(
    signal,
    () => sql`select public.enqueue_discovery_for_user(p_user_id => ${parsed.data.user_id}::uuid)`,
  )
}
