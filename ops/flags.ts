// Safe mode and canary rollouts as commands: the runbook's flag changes, validated by the
// database (its trigger refuses bad values) and recorded in the action ledger.
import { asOperator, type Operator, type Sql, UsageError } from './connection.ts'

export interface FlagChange {
  key: string
  before: unknown
  after: unknown
}

export async function listFlags(sql: Sql) {
  return await sql<{ key: string; value: unknown; updated_at: Date; updated_by: string }[]>`
    select key, value, updated_at, updated_by from public.feature_flags order by key`
}

async function setFlag(
  sql: Sql,
  op: Operator,
  key: string,
  build: (before: Record<string, unknown>) => Record<string, unknown>,
): Promise<FlagChange> {
  return await asOperator(sql, op, async (tx) => {
    const rows = await tx<{ value: Record<string, unknown> }[]>`
      select value from public.feature_flags where key = ${key} for update`
    if (rows.length === 0) throw new UsageError(`no flag named ${key}`)
    const before = rows[0].value
    const after = build(before)
    await tx`update public.feature_flags
                set value = ${JSON.stringify(after)}::text::jsonb, updated_at = now()
              where key = ${key}`
    return { key, before, after }
  })
}

/**
 * Safe mode on (optionally only for a percentage of users: the canary of the runbook's phase 2),
 * or off for everyone.
 */
export async function setSafeMode(
  sql: Sql,
  op: Operator,
  mode: 'on' | 'off',
  percentage?: number,
): Promise<FlagChange> {
  if (mode === 'off' && percentage !== undefined) {
    throw new UsageError('--percentage applies to "safe-mode on" only')
  }
  return await setFlag(
    sql,
    op,
    'global.safe_mode',
    () =>
      mode === 'off'
        ? { enabled: false }
        : percentage === undefined
        ? { enabled: true }
        : { enabled: true, percentage },
  )
}

/** Sets a boolean flag's rollout percentage (0–100), keeping its other fields. */
export async function setCanary(sql: Sql, op: Operator, key: string, percentage: number) {
  if (!Number.isInteger(percentage) || percentage < 0 || percentage > 100) {
    throw new UsageError('percentage must be an integer from 0 to 100')
  }
  return await setFlag(sql, op, key, (before) => {
    if (typeof before.enabled !== 'boolean') {
      throw new UsageError(`${key} is not a boolean flag; only those roll out by percentage`)
    }
    return { ...before, enabled: true, percentage }
  })
}
