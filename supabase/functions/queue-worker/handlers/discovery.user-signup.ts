// Topic 'discovery.user-signup': queued by the auth.users insert trigger (migration
// 20261122030100_discovery_queue.sql) with payload {"user_id": …}; queues one discovery item per
// interest of the user through public.enqueue_discovery_for_user, which rocker-discovery-run
// then works through.
import { z } from 'zod'
import type { EventJob } from '../../_shared/lease.ts'
import type { HandlerContext, TopicHandler } from '../registry.ts'

export const DISCOVERY_USER_SIGNUP_TOPIC = 'discovery.user-signup'

/** The payload the trigger writes. Anything else is a bug upstream: fail the job, loudly. */
export const payloadSchema = z.looseObject({
  user_id: z.uuid({ error: 'payload.user_id must be a uuid' }),
})
export type DiscoveryUserSignupPayload = z.output<typeof payloadSchema>

/**
 * Resolves once the items are queued (possibly none: a user without interests yet, or whose
 * items are already queued — enqueue_discovery_for_user deduplicates). Safe to run twice.
 */
export const discoveryUserSignup: TopicHandler<unknown> = async (
  job: EventJob<unknown>,
  { sql }: HandlerContext,
) => {
  const parsed = payloadSchema.safeParse(job.payload)
  if (!parsed.success) {
    throw new Error(
      `invalid ${DISCOVERY_USER_SIGNUP_TOPIC} payload: ${parsed.error.issues[0].message}`,
    )
  }
  await sql`
    select public.enqueue_discovery_for_user(p_user_id => ${parsed.data.user_id}::uuid)`
}
