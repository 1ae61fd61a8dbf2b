// The Postgres side of a discovery batch: one call of ops.discovery_assess_interests, on the
// function's own connection. The SQL function holds the logic and the grants (pgTAP checks that
// service_role may run it); the queue calls come from _shared/lease.ts's discoveryQueue.
import type { Sql } from '../_shared/db.ts'
import { runCancellable } from '../_shared/drain.ts'
import type { AssessInterests, InterestAssessment } from './run.ts'

export function assessInterests(sql: Sql): AssessInterests {
  // Past the batch's deadline its items are failed anyway: the statement is cancelled, and its
  // per-interest work rolls back with it.
  return (interestIds, threshold, signal) =>
    runCancellable(signal, () =>
      sql<InterestAssessment[]>`
        select interest_id, ok, error, gaps_opened, gaps_resolved
        from ops.discovery_assess_interests(
          p_interest_ids => ${sql.array([...interestIds])}::uuid[],
          p_threshold => ${threshold}::int)`)
}
