// The Postgres side of the run loop: the discovery queue's lease/ack/fail from _shared/lease.ts
// and one call of ops.discovery_assess_interests per batch. Like the queue-worker, it runs on the
// function's own connection; the SQL functions hold the logic and the grants (pgTAP checks that
// service_role may run every one of them).
import type { Sql } from '../_shared/db.ts'
import { discoveryQueue } from '../_shared/lease.ts'
import type { DiscoveryStore, InterestAssessment } from './run.ts'

/** Recorded in leased_by, so an operator can tell whose lease a row is under. */
export const WORKER = 'rocker-discovery-run'

export function createDiscoveryStore(sql: Sql, worker = WORKER): DiscoveryStore {
  const queue = discoveryQueue(sql)
  return {
    async lease(limit, ttlSeconds) {
      const { token, rows } = await queue.lease({ limit, ttlSeconds, worker })
      if (token === null || rows.length === 0) return null
      return { lease_token: token, items: rows }
    },
    assess(interestIds, threshold) {
      return sql<InterestAssessment[]>`
        select interest_id, ok, error, gaps_opened, gaps_resolved
        from ops.discovery_assess_interests(
          p_interest_ids => ${sql.array(interestIds)}::uuid[],
          p_threshold => ${threshold}::int)`
    },
    ack: (ids, token) => queue.ack(ids, token),
    fail: (ids, token, error) => queue.fail(ids, token, error),
  }
}
