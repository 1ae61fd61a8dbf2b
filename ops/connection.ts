// How the ops CLI reaches a project: the database URL and API settings from the environment
// (or flags), defaulting to the local dev stack, and a transaction that names the operator so
// every change lands in public.ai_action_ledger with who did it and why.
import postgres from 'postgres'
import { loadProjectConfig } from '../local/config.ts'
import { localKeys } from '../local/keys.ts'

export type Sql = postgres.Sql
export type Tx = postgres.TransactionSql

export interface Target {
  dbUrl: string
  apiUrl: string
  anonKey: string
  serviceRoleKey: string
}

/**
 * The project to act on: SUPABASE_* variables when set, else the local dev stack on the ports
 * supabase/config.toml gives it (the same file `deno task dev` reads).
 */
export async function resolveTarget(env: Record<string, string | undefined>): Promise<Target> {
  const keys = await localKeys()
  const config = await loadProjectConfig()
  return {
    dbUrl: env.SUPABASE_DB_URL ||
      `postgresql://postgres:postgres@127.0.0.1:${config.dbPort}/postgres`,
    apiUrl: (env.SUPABASE_URL || `http://127.0.0.1:${config.apiPort}`).replace(/\/$/, ''),
    anonKey: env.SUPABASE_ANON_KEY || keys.anonKey,
    serviceRoleKey: env.SUPABASE_SERVICE_ROLE_KEY || keys.serviceRoleKey,
  }
}

export function connect(dbUrl: string): Sql {
  return postgres(dbUrl, { prepare: false, max: 2, onnotice: () => {}, connect_timeout: 5 })
}

export interface Operator {
  /** Recorded as the ledger's actor (the ledger reads `app.actor`). */
  actor: string
  /** Recorded as the ledger's reason (`app.reason`); required for every change. */
  reason: string
}

export class UsageError extends Error {}

/** Runs `fn` in one transaction in which the ledger attributes changes to the operator. */
export function asOperator<T>(sql: Sql, op: Operator, fn: (tx: Tx) => Promise<T>): Promise<T> {
  if (!op.reason.trim()) throw new UsageError('--reason is required for every change')
  return sql.begin(async (tx) => {
    await tx`select set_config('app.actor', ${op.actor}, true),
                    set_config('app.reason', ${op.reason}, true)`
    return await fn(tx)
  }) as Promise<T>
}
