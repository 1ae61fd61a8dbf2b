// The Postgres client (postgres.js) and the transaction that acts as a signed-in user.
//
// Worker endpoints use the client as it is: SUPABASE_DB_URL is the function's own connection as
// the database owner, not an API role, so no role is assumed for them and RLS does not apply;
// what bounds a worker is the SQL functions it calls.
import postgres from 'postgres'
import type { Claims } from './auth.ts'
import type { Env } from './env.ts'

export type Sql = postgres.Sql
export type Tx = postgres.TransactionSql

/**
 * Default lock_timeout, ms: a statement stuck behind someone else's lock fails with 55P03, which
 * callers get as a 503 to retry, instead of holding the request (and a pooled connection) for as
 * long as the lock lasts.
 */
export const DEFAULT_LOCK_TIMEOUT_MS = 2000
/**
 * Default statement_timeout, ms: below the Edge Functions wall clock (150 s), so the database
 * gives up before the platform kills the isolate and leaves the statement running for no one.
 */
export const DEFAULT_STATEMENT_TIMEOUT_MS = 60_000

export interface DbOptions {
  /** Pool size per isolate. Default 5: edge isolates are many and small, Supavisor pools the rest. */
  max?: number
  /** Seconds to wait for a connection. Default 2, so /health fails fast when the database is down. */
  connectTimeoutSeconds?: number
  /** Seconds before an idle connection is closed. Default 20, below Supavisor's idle cut-off. */
  idleTimeoutSeconds?: number
  /** Shown in pg_stat_activity. Default 'edge-kernel'. */
  applicationName?: string
  /** Longest wait for a lock, ms (`lock_timeout`). Default DEFAULT_LOCK_TIMEOUT_MS. */
  lockTimeoutMs?: number
  /** Longest any statement may run, ms (`statement_timeout`). Default DEFAULT_STATEMENT_TIMEOUT_MS. */
  statementTimeoutMs?: number
}

/** The DbOptions a function's settings ask for (env.ts's FUNCTION_DB_* variables). */
export function dbOptions(
  env: Pick<Env, 'FUNCTION_DB_LOCK_TIMEOUT_MS' | 'FUNCTION_DB_STATEMENT_TIMEOUT_MS'>,
): DbOptions {
  return {
    lockTimeoutMs: env.FUNCTION_DB_LOCK_TIMEOUT_MS,
    statementTimeoutMs: env.FUNCTION_DB_STATEMENT_TIMEOUT_MS,
  }
}

/** Creates one client; call it once at module scope in index.ts and inject the result. */
export function createDb(url: string, options: DbOptions = {}): Sql {
  const {
    max = 5,
    connectTimeoutSeconds = 2,
    idleTimeoutSeconds = 20,
    applicationName = 'edge-kernel',
    lockTimeoutMs = DEFAULT_LOCK_TIMEOUT_MS,
    statementTimeoutMs = DEFAULT_STATEMENT_TIMEOUT_MS,
  } = options
  return postgres(url, {
    // SUPABASE_DB_URL points at Supavisor in transaction mode, where consecutive statements may
    // run on different server connections; named prepared statements would not exist there.
    prepare: false,
    max,
    connect_timeout: connectTimeoutSeconds,
    idle_timeout: idleTimeoutSeconds,
    // Notices (e.g. "relation already exists, skipping") are not errors and would flood the logs.
    onnotice: () => {},
    // Startup parameters, so every session has the bounds from its first statement on, with no
    // extra round trip per transaction.
    connection: {
      application_name: applicationName,
      lock_timeout: lockTimeoutMs,
      statement_timeout: statementTimeoutMs,
    },
  })
}

/**
 * Runs `fn` in a transaction as the `authenticated` role with the caller's claims, exactly as
 * PostgREST does, so RLS policies and auth.uid() apply. `is_local = true` scopes both settings to
 * the transaction, which is what keeps them from leaking through a pooled connection.
 * For user endpoints such as policy-ranker and legacy-migration, which act for the caller.
 */
export async function withUser<T>(
  sql: Sql,
  claims: Claims,
  fn: (tx: Tx) => Promise<T>,
): Promise<T> {
  // The claims' role must agree with the database role: claims saying service_role inside an
  // authenticated session would satisfy `auth.role() = 'service_role'` policies.
  const asUser = JSON.stringify({ ...claims, role: 'authenticated' })
  const result = await sql.begin(async (tx) => {
    await tx`
      select set_config('role', 'authenticated', true),
             set_config('request.jwt.claims', ${asUser}, true)
    `
    return await fn(tx)
  })
  return result as T
}
