// One migration run for the caller, in four phases: preflight (read and check the legacy rows,
// and that every object they name exists), uploads (copy each object to activity-assets), write
// (insert the activities and assets and delete the legacy rows, in one transaction as the
// caller) and purge (after the commit, remove the legacy objects). A dry run does all of it,
// rolls the transaction back and removes its copies instead. Any failure before the commit
// leaves the legacy data as it was: the transaction rolls back and the copies are removed. The
// run is logged in user_migrations from start to outcome, and measured in the usage metrics.
import type { Claims } from '../_shared/auth.ts'
import { type Sql, withUser } from '../_shared/db.ts'
import { HttpError } from '../_shared/errors.ts'
import type { UsageMetrics } from '../_shared/metrics.ts'
import type { Clock } from '../_shared/wiring.ts'
import type { LegacyMigrationConfig } from './config.ts'
import {
  ASSETS_BUCKET,
  LEGACY_BUCKET,
  legacyFolders,
  type MigrationPlan,
  missingObjectProblems,
  planMigration,
  type PlanProblem,
} from './plan.ts'
import type { RetryOptions } from './retry.ts'
import { beginRun, finishRun, type RunOutcome, RunStatus, type StartedRun } from './runs.ts'
import { insertActivities, purgeLegacyRows, readLegacyRows } from './rows.ts'
import { instrumentStorage, type MigrationStorage, StorageCallError } from './storage.ts'
import { copyAssets, type CopyLog, removeObjects, type TransferOptions } from './transfer.ts'

/** The phases, in order, as phase_ms and the usage metrics name them. */
export const PHASES = ['preflight', 'uploads', 'write', 'purge'] as const
export type Phase = typeof PHASES[number]

/** What a run moved (a dry run: would have moved). */
export interface MigrationCounts {
  /** Legacy rows found. */
  portfolios: number
  items: number
  /** New rows written (a dry run writes them, then rolls them back). */
  activities: number
  assets: number
  /** Objects copied to activity-assets. */
  objects: number
}

/** The answer, mirroring the run's user_migrations row. */
export interface MigrationResult {
  migration_id: string
  status: Exclude<RunStatus, 'running'>
  dryRun: boolean
  message: string
  counts: MigrationCounts
  phase_ms: Partial<Record<Phase, number>>
}

export const MESSAGES = {
  dryRunComplete: 'Dry run complete',
  completed: 'Migration complete',
  alreadyMigrated: 'Already migrated: no legacy data left to move',
  nothingToMigrate: 'No legacy data to migrate',
} as const

/** Problems listed in a preflight answer at most (the count is always exact). */
const MAX_LISTED_PROBLEMS = 100

export interface MigrationContext {
  sql: Sql
  claims: Claims
  userId: string
  dryRun: boolean
  /** Storage as the caller (their JWT). */
  storage: MigrationStorage
  metrics: UsageMetrics
  /** Monotonic milliseconds. */
  now: Clock
  config: LegacyMigrationConfig
  /** Backoff overrides (tests pass a sleep that does not wait). */
  retry?: Pick<RetryOptions, 'sleep' | 'random' | 'baseDelayMs' | 'maxDelayMs'>
  /** New activity ids. Default crypto.randomUUID. */
  newId?: () => string
}

// Thrown inside the write transaction of a dry run, after the whole workload, so postgres.js
// rolls it back.
class DryRunRollback extends Error {}

/** Runs one migration for the caller. Known failures throw HttpErrors carrying the result. */
export async function runMigration(ctx: MigrationContext): Promise<MigrationResult> {
  const started = ctx.now()
  const run = await beginRun(ctx.sql, ctx.userId, ctx.dryRun)
  const tags = { run_id: run.id, user_id: ctx.userId, dry_run: ctx.dryRun }
  const storage = instrumentStorage(ctx.storage, ctx.metrics, ctx.now, {
    run_id: run.id,
    user_id: ctx.userId,
  })
  const transfer: TransferOptions = {
    concurrency: ctx.config.concurrency,
    retry: { attempts: ctx.config.storageAttempts, ...ctx.retry },
  }
  const phases = new PhaseClock(ctx.now, ctx.metrics, tags)
  const counts: MigrationCounts = { portfolios: 0, items: 0, activities: 0, assets: 0, objects: 0 }
  const result = (status: MigrationResult['status'], message: string): MigrationResult => ({
    migration_id: run.id,
    status,
    dryRun: ctx.dryRun,
    message,
    counts,
    phase_ms: phases.ms,
  })
  const close = (outcome: MigrationResult) => finish(ctx, run, outcome, started)

  // Every copy begun is removed again unless the write committed.
  const copies: CopyLog = { attempted: [], copied: 0 }
  let committed = false
  try {
    const plan = await phases.time('preflight', () => preflight(ctx, storage))
    counts.portfolios = plan.portfolioIds.length
    counts.items = plan.itemIds.length
    if (plan.activities.length === 0) {
      const message = run.lastCompletedAt ? MESSAGES.alreadyMigrated : MESSAGES.nothingToMigrate
      return await close(result(RunStatus.completed, message))
    }

    await phases.time('uploads', () => copyAssets(storage, plan.assets, copies, transfer))
    counts.objects = copies.copied

    // The legacy rows are deleted in the write's transaction, so the move is atomic; their
    // delete is timed as purge. A dry run rolls all of it back.
    let rowPurgeMs = 0
    await phases.time('write', async () => {
      try {
        await withUser(ctx.sql, ctx.claims, async (tx) => {
          const written = await insertActivities(tx, plan)
          counts.activities = written.activities
          counts.assets = written.assets
          const purgeStarted = ctx.now()
          await purgeLegacyRows(tx, plan)
          rowPurgeMs = ctx.now() - purgeStarted
          if (ctx.dryRun) throw new DryRunRollback()
        })
        committed = true
      } catch (err) {
        if (!(err instanceof DryRunRollback)) throw err
      }
    }, () => rowPurgeMs)

    if (ctx.dryRun) {
      // What a real purge removes from the legacy bucket, a dry run removes from the new one:
      // its copies, so the run costs what a real one does and leaves nothing behind.
      const removal = await phases.time(
        'purge',
        () => removeObjects(storage, ASSETS_BUCKET, copies.attempted, transfer),
        undefined,
        rowPurgeMs,
      )
      if (removal.failed.length) {
        throw new CleanupError(
          `Dry run could not remove ${removal.failed.length} copied objects from ` +
            `${ASSETS_BUCKET} (${removal.error}): ${removal.failed.slice(0, 5).join(', ')}`,
        )
      }
      copies.attempted.length = 0
      return await close(result(RunStatus.failed, MESSAGES.dryRunComplete))
    }

    const removal = await phases.time(
      'purge',
      () => removeObjects(storage, LEGACY_BUCKET, plan.assets.map((a) => a.legacy_path), transfer),
      undefined,
      rowPurgeMs,
    )
    // The move has committed: objects left behind in the legacy bucket are reported, not undone.
    const message = removal.failed.length === 0 ? MESSAGES.completed : `${MESSAGES.completed}; ` +
      `${removal.failed.length} legacy objects could not be removed from ${LEGACY_BUCKET} ` +
      `(${removal.error}): ${removal.failed.slice(0, 5).join(', ')}`
    return await close(result(RunStatus.completed, message))
  } catch (err) {
    if (committed) throw err // only closing the run can fail after the commit
    let message = failureMessage(err)
    const leftover = await removeObjects(storage, ASSETS_BUCKET, copies.attempted, transfer)
    if (copies.attempted.length) {
      message += leftover.failed.length === 0
        ? `; rolled back, ${copies.copied} copied objects removed`
        : `; rolled back, but ${leftover.failed.length} copied objects could not be removed ` +
          `from ${ASSETS_BUCKET} (${leftover.error}): ${leftover.failed.slice(0, 5).join(', ')}`
    }
    const failed = result(RunStatus.failed, message)
    await close(failed).catch((closeErr) =>
      console.error('legacy-migration: could not record the failed run', run.id, closeErr)
    )
    throw toHttpFailure(err, failed)
  }
}

/** Reads and checks the caller's rows and objects; throws PreflightError listing every problem. */
async function preflight(ctx: MigrationContext, storage: MigrationStorage): Promise<MigrationPlan> {
  const rows = await readLegacyRows(ctx.sql, ctx.claims)
  const planned = planMigration(ctx.userId, rows, ctx.newId)
  if (planned.plan === null) throw new PreflightError(planned.problems)
  const existing = new Set<string>()
  for (const folder of legacyFolders(planned.plan)) {
    for (const name of await storage.list(LEGACY_BUCKET, folder)) existing.add(name)
  }
  const missing = missingObjectProblems(planned.plan, existing)
  if (missing.length) throw new PreflightError(missing)
  return planned.plan
}

/** The legacy rows or objects cannot be moved as they are. */
export class PreflightError extends Error {
  override readonly name = 'PreflightError'
  constructor(readonly problems: readonly PlanProblem[]) {
    const shown = problems.slice(0, 3).map((p) => `${p.table} ${p.id} ${p.field} ${p.message}`)
    const more = problems.length > shown.length
      ? `; and ${problems.length - shown.length} more`
      : ''
    const count = `${problems.length} problem${problems.length === 1 ? '' : 's'}`
    super(`Preflight found ${count}: ${shown.join('; ')}${more}`)
  }
}

/** A dry run could not remove its copies (after retries). */
class CleanupError extends Error {
  override readonly name = 'CleanupError'
}

/** The run's reason, as user_migrations.message records it. */
function failureMessage(err: unknown): string {
  if (err instanceof PreflightError || err instanceof CleanupError) return err.message
  if (err instanceof StorageCallError) {
    return `Storage ${err.op} in ${err.bucket} failed` +
      `${err.status === undefined ? '' : ` (${err.status})`}: ${err.message}`
  }
  if (err instanceof HttpError) return err.message
  const code = (err as { code?: unknown }).code
  const text = err instanceof Error ? err.message : String(err)
  return typeof code === 'string' ? `Failed (${code}): ${text}` : `Failed: ${text}`
}

/**
 * The caller's answer for a failed run: preflight problems are 422 and Storage failures 502,
 * both with the run in `details`; anything else goes to the app's one error path as it is
 * (database errors through PG_ERRORS, the rest as an opaque 500).
 */
function toHttpFailure(err: unknown, failed: MigrationResult): unknown {
  if (err instanceof PreflightError) {
    return new HttpError(422, 'preflight_failed', `${err.message}. Nothing was moved.`, {
      details: { ...failed, problems: err.problems.slice(0, MAX_LISTED_PROBLEMS) },
      cause: err,
    })
  }
  if (err instanceof StorageCallError || err instanceof CleanupError) {
    return new HttpError(502, 'storage_failed', failed.message, { details: failed, cause: err })
  }
  return err
}

/** Records the outcome and emits the run metric. */
async function finish(
  ctx: MigrationContext,
  run: StartedRun,
  result: MigrationResult,
  started: number,
): Promise<MigrationResult> {
  const outcome: RunOutcome = {
    status: result.status,
    message: result.message,
    counts: { ...result.counts },
    phase_ms: result.phase_ms,
  }
  try {
    await finishRun(ctx.sql, run.id, outcome)
  } finally {
    ctx.metrics.migrationRun({
      run_id: run.id,
      user_id: ctx.userId,
      dry_run: ctx.dryRun,
      status: result.status,
      outcome: outcomeOf(result),
      rows: result.counts.activities + result.counts.assets,
      duration_ms: Math.round(ctx.now() - started),
    })
  }
  return result
}

/** The run's outcome for dashboards: the status alone cannot tell a dry run from a failure. */
function outcomeOf(result: MigrationResult): string {
  if (result.dryRun && result.message === MESSAGES.dryRunComplete) return 'dry_run_complete'
  if (result.status === RunStatus.failed) return 'failed'
  return result.counts.activities === 0 ? 'nothing_to_migrate' : 'completed'
}

/** Times each phase into phase_ms (whole milliseconds) and a migration.phase metric. */
class PhaseClock {
  readonly ms: Partial<Record<Phase, number>> = {}

  constructor(
    private readonly now: Clock,
    private readonly metrics: UsageMetrics,
    private readonly tags: { run_id: string; user_id: string; dry_run: boolean },
  ) {}

  /**
   * Runs `work` as `phase`. `excluded` (read after it ends) is time inside it that belongs to
   * another phase; `included` is time spent earlier that belongs to this one.
   */
  async time<T>(
    phase: Phase,
    work: () => Promise<T>,
    excluded?: () => number,
    included = 0,
  ): Promise<T> {
    const started = this.now()
    let status = 'failed'
    try {
      const value = await work()
      status = 'ok'
      return value
    } finally {
      const ms = Math.max(0, Math.round(this.now() - started - (excluded?.() ?? 0) + included))
      this.ms[phase] = ms
      this.metrics.migrationPhase({ ...this.tags, phase, status, duration_ms: ms })
    }
  }
}
