// The run log, public.user_migrations, written on the function's own connection through the
// ops functions (a user can read their runs but never write one). The unique index on running
// rows is what turns a second concurrent call into 409.
import type { Sql } from '../_shared/db.ts'
import { conflict } from '../_shared/errors.ts'

/** user_migrations.status, mirroring its check constraint. */
export const RunStatus = { running: 'running', completed: 'completed', failed: 'failed' } as const
export type RunStatus = typeof RunStatus[keyof typeof RunStatus]

/** The index that allows one running migration per user. */
export const ONE_RUNNING_INDEX = 'user_migrations_one_running_per_user'

export interface StartedRun {
  id: string
  /** When the caller's last real run completed, or null if none has. */
  lastCompletedAt: Date | null
}

/** Opens a run; throws 409 when the caller already has one running. */
export async function beginRun(sql: Sql, userId: string, dryRun: boolean): Promise<StartedRun> {
  try {
    const [row] = await sql<{ migration_id: string; last_completed_at: Date | null }[]>`
      select migration_id, last_completed_at
      from ops.begin_user_migration(p_user_id => ${userId}::uuid, p_dry_run => ${dryRun}::boolean)`
    return { id: row.migration_id, lastCompletedAt: row.last_completed_at }
  } catch (err) {
    const pg = err as { code?: string; constraint_name?: string }
    if (pg.code === '23505' && pg.constraint_name === ONE_RUNNING_INDEX) {
      throw conflict(
        'A legacy migration is already running for this user; try again when it ends',
        {
          code: 'migration_running',
          cause: err,
        },
      )
    }
    throw err
  }
}

export interface RunOutcome {
  status: Exclude<RunStatus, 'running'>
  message: string
  counts: Record<string, number>
  phase_ms: Record<string, number>
}

/** Closes the run with its outcome. */
export async function finishRun(sql: Sql, id: string, outcome: RunOutcome): Promise<void> {
  await sql`
    select ops.finish_user_migration(
      p_migration_id => ${id}::uuid,
      p_status => ${outcome.status}::text,
      p_message => ${outcome.message}::text,
      p_counts => ${JSON.stringify(outcome.counts)}::text::jsonb,
      p_phase_ms => ${JSON.stringify(outcome.phase_ms)}::text::jsonb)`
}
