// The Postgres side of a decision: candidate scores from the feature store, the safe-mode
// fallback slate, the one-statement log of a decision's slots, and a reward. The SQL functions
// hold the logic and the grants (supabase/migrations/*_learning_*.sql; docs/learning.md).
import type { Claims } from '../_shared/auth.ts'
import { type Sql, type Tx, withUser } from '../_shared/db.ts'
import type { ScoredCandidate, Slot } from './slate.ts'

/** Scores for the user: the given ids, or else their suggestions then popular candidates. */
export async function scoreCandidates(
  sql: Sql,
  userId: string,
  candidateIds: readonly string[] | undefined,
): Promise<ScoredCandidate[]> {
  const rows = await sql<{ candidate_id: string; score: number }[]>`
    select candidate_id, score
    from public.ranker_candidate_scores(
      p_user_id => ${userId}::uuid,
      p_candidate_ids => ${candidateIds ? textArrayLiteral(candidateIds) : null}::text[])`
  return rows.map((r) => ({ id: r.candidate_id, score: r.score }))
}

/**
 * The ids as a text[] literal (`{"a","b \"c\""}`), bound as text and cast in SQL. Not
 * sql.array(): postgres.js serializes an array with the array type OIDs a connection fetches
 * when it opens, and a query built before any connection has them (/rank scores while the
 * rate-limit check opens another connection of a fresh client) sends `a,b`, which Postgres
 * refuses as a malformed array literal.
 */
export function textArrayLiteral(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/["\\]/g, '\\$&')}"`).join(',')}}`
}

/** The deterministic safe-mode slate (popular, recent, global), in slate order. */
export async function fallbackCandidates(sql: Sql, limit: number): Promise<ScoredCandidate[]> {
  const rows = await sql<{ candidate_id: string; score: number }[]>`
    select candidate_id, score
    from public.ranker_fallback_slate(p_limit => ${limit}::int)
    order by "position"`
  return rows.map((r) => ({ id: r.candidate_id, score: r.score }))
}

export interface DecisionLog {
  decisionId: string
  userId: string
  surface: string
  policy: string
  slots: readonly Slot[]
}

/**
 * Writes every slot of the decision in one statement; returns the rows written (0 when the
 * learning.enabled flag is off for the user: the SQL checks it too, so no stale cache can log).
 *
 * The statement's transaction commits with synchronous_commit off: the answer does not wait
 * for the WAL flush (about 1.2 ms of a 5 ms decision). A crash may lose the decisions of the
 * last few hundred milliseconds (at most 3 × wal_writer_delay, 600 ms by default), never
 * corrupt them; offline evaluation tolerates a missing sliver of the log, and a reward for a
 * lost decision is a 404 like any unknown one. Rewards stay durable: record_learning_reward
 * commits as usual, and so does the hydrate, whose flush also makes every decision it counted
 * durable. The setting is set_config(…, true) in the same statement (a materialized CTE, so it
 * runs first): transaction-local, so it is still in effect at COMMIT and never leaks into the
 * pooled connection. A function-level SET on log_learning_decision would not do: it is undone
 * when the function returns, before the commit.
 */
export async function logDecision(sql: Sql | Tx, log: DecisionLog): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    with async_commit as materialized (
      select pg_catalog.set_config('synchronous_commit', 'off', true)
    )
    select public.log_learning_decision(
      p_decision_id => ${log.decisionId}::uuid,
      p_user_id => ${log.userId}::uuid,
      p_surface => ${log.surface}::text,
      p_policy => ${log.policy}::text,
      p_slots => ${JSON.stringify(log.slots)}::text::jsonb) as n
    from async_commit`
  return row.n
}

export interface RewardRequest {
  decision_id: string
  candidate_id: string
  reward: number
}

export interface RecordedReward extends RewardRequest {
  rewarded_at: Date
}

/**
 * Records a reward as the caller (role authenticated with their claims), so the SQL's ownership
 * rule applies: another user's decision is "not found". 23505 (rewarded already), PT410 (window
 * closed) and 22023 (out of range) map to 409, 410 and 400 through _shared/errors.ts.
 */
export async function recordReward(
  sql: Sql,
  claims: Claims,
  reward: RewardRequest,
): Promise<RecordedReward> {
  const [row] = await withUser(sql, claims, (tx) =>
    tx<RecordedReward[]>`
      select decision_id, candidate_id, reward, rewarded_at
      from public.record_learning_reward(
        p_decision_id => ${reward.decision_id}::uuid,
        p_candidate_id => ${reward.candidate_id}::text,
        p_reward => ${reward.reward}::float8)`)
  return row
}
