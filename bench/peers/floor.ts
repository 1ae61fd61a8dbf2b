// The minimal raw-SQL floor a SKIP LOCKED queue can reach on this cluster: no retries, no
// expired leases, no dead-lettering, no function call, and prepared statements (each planned
// once per connection, which a client behind Supavisor's transaction mode cannot do). Claim up
// to :batch queued rows under one fresh token, commit; then mark exactly those rows done,
// guarded by the token, commit. Two durable commits per batch, as any leased queue pays (a
// lease that is not committed does not survive the worker's crash).
import type { BenchContext } from '../harness.ts'
import { pgbenchRun } from './queue_runs.ts'

/**
 * The end of a claim+ack pgbench script whose claim is a CTE `claimed(id, lease_token)`: the
 * batch's ids and token into pgbench variables, then exactly those rows marked done, guarded by
 * the token (ack_events' statement, inlined).
 */
export const MARK_CLAIMED_DONE = `
select coalesce(array_agg(id)::text, '{}') as ids,
       coalesce(min(lease_token::text), '00000000-0000-0000-0000-000000000000') as tok
  from claimed
\\gset
update public.events_queue q
   set status = 'done', lease_expires_at = null, updated_at = now()
 where q.id = any(:ids::bigint[]) and q.status = 'processing' and q.lease_token = :tok::uuid;
`

export const MINIMAL_FLOOR_SCRIPT = `
with token as (select gen_random_uuid() as token),
candidates as (
  select q.id from public.events_queue q
   where q.topic = :topic and q.status = 'queued' and q.run_at <= now()
   order by q.priority, q.run_at, q.id limit :batch for update skip locked),
claimed as (
  update public.events_queue q
     set status = 'processing', attempts = q.attempts + 1, lease_token = t.token,
         lease_expires_at = now() + interval '60 seconds', updated_at = now()
    from candidates c, token t
   where q.id = c.id
  returning q.id, q.lease_token)
${MARK_CLAIMED_DONE}`

/** The minimal floor over `jobs` rows of `topic`, batch 100, 4 pgbench clients: jobs/s. */
export function minimalFloorRun(ctx: BenchContext, topic: string, jobs: number) {
  return pgbenchRun(ctx, MINIMAL_FLOOR_SCRIPT, topic, jobs, 100, 'prepared')
}
