// The Postgres side of the run loop: issue 3's discovery lease API and the gap assessment, each
// one named SQL function called with named arguments, as service_role (withServiceRole) so the
// worker holds exactly the grants it would have through the API.
import { type Sql, withServiceRole } from '../_shared/db.ts'
import type { DiscoveryStore, InterestAssessment, LeasedBatch } from './run.ts'

/** Shown in the lease rows (`p_worker`) so an operator can tell whose lease it is. */
const WORKER = 'rocker-discovery-run'

export function createDiscoveryStore(sql: Sql, worker = WORKER): DiscoveryStore {
  return {
    async lease(limit, ttlSeconds) {
      const rows = await withServiceRole(
        sql,
        (tx) =>
          tx<
            {
              id: string
              interest_id: string
              user_id: string | null
              attempts: number
              lease_token: string
            }[]
          >`
          select id, interest_id, user_id, attempts, lease_token
          from public.lease_discovery(
            p_limit => ${limit}::int, p_ttl_seconds => ${ttlSeconds}::int,
            p_worker => ${worker}::text)`,
      )
      if (rows.length === 0) return null
      const batch: LeasedBatch = {
        lease_token: rows[0].lease_token,
        items: rows.map((r) => ({
          id: Number(r.id),
          interest_id: r.interest_id,
          user_id: r.user_id,
          attempts: r.attempts,
        })),
      }
      return batch
    },

    assess(interestIds, threshold) {
      return withServiceRole(sql, (tx) =>
        tx<InterestAssessment[]>`
          select interest_id, ok, error, gaps_opened, gaps_resolved
          from ops.discovery_assess_interests(
            p_interest_ids => ${interestIds}::uuid[], p_threshold => ${threshold}::int)`)
    },

    async ack(ids, leaseToken) {
      const [row] = await withServiceRole(sql, (tx) =>
        tx<{ n: number }[]>`
          select public.ack_discovery(
            p_ids => ${ids}::bigint[], p_lease_token => ${leaseToken}::uuid) as n`)
      return row.n
    },

    async fail(ids, leaseToken, error) {
      const [row] = await withServiceRole(sql, (tx) =>
        tx<{ n: number }[]>`
          select public.fail_discovery(
            p_ids => ${ids}::bigint[], p_lease_token => ${leaseToken}::uuid,
            p_error => ${error}::text) as n`)
      return row.n
    },
  }
}
