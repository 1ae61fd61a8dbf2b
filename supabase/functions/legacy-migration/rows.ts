// The caller's rows, always touched as the caller (withUser: role authenticated with their
// claims), so RLS bounds the migration as it bounds the app: read the legacy rows; in one
// transaction write the activities and assets and delete the legacy rows they came from.
import type { Claims } from '../_shared/auth.ts'
import { type Sql, type Tx, withUser } from '../_shared/db.ts'
import type { LegacyRows, MigrationPlan } from './plan.ts'

/** The caller's legacy portfolios and items (legacy_portfolio_rows()). */
export async function readLegacyRows(sql: Sql, claims: Claims): Promise<LegacyRows> {
  const [row] = await withUser(
    sql,
    claims,
    (tx) => tx<{ rows: LegacyRows }[]>`select public.legacy_portfolio_rows() as rows`,
  )
  return row.rows
}

/** Inserts the plan's activities and assets; answers the rows written. */
export async function insertActivities(
  tx: Tx,
  plan: MigrationPlan,
): Promise<{ activities: number; assets: number }> {
  const [row] = await tx<{ written: { activities: number; assets: number } }[]>`
    select public.insert_migrated_activities(
      p_activities => ${JSON.stringify(plan.activities)}::text::jsonb,
      p_assets => ${JSON.stringify(plan.assets)}::text::jsonb) as written`
  return row.written
}

/** Deletes exactly the legacy rows the plan moves (40001 if they changed meanwhile). */
export async function purgeLegacyRows(
  tx: Tx,
  plan: MigrationPlan,
): Promise<{ portfolios: number; items: number }> {
  const [row] = await tx<{ purged: { portfolios: number; items: number } }[]>`
    select public.purge_legacy_portfolio_rows(
      p_portfolio_ids => ${tx.array(plan.portfolioIds)}::uuid[],
      p_item_ids => ${tx.array(plan.itemIds)}::uuid[]) as purged`
  return row.purged
}
