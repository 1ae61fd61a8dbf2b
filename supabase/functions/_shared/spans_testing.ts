// Test support for spans: removing a test's own spans completely, rollups included (the rollups
// are maintained on insert only, so deleting raw spans alone would leave their counts behind in
// the SLO views and alert rules that later tests read).
import type postgres from 'postgres'

/** Deletes every span of `path` and its per-minute rollups. `sql` must be the owner. */
export async function deleteSpans(sql: postgres.Sql, path: string): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`delete from public.kernel_spans where path = ${path}`
    await tx`delete from ops.kernel_span_minutes where path = ${path}`
    await tx`delete from ops.kernel_span_buckets where path = ${path}`
  })
}
