// Wires the local Auth into the stack: GoTrue connects to the project's database as its own
// role, supabase_auth_admin, and honours [auth] from config.toml. The stack owns the connection
// (it opens on the first query and closes when the stack stops).
import postgres from 'postgres'
import type { AuthSettings } from '../config.ts'
import { LOCAL_DB_PASSWORD } from '../keys.ts'
import { createAuthHandler } from './handler.ts'

/** The role Supabase Auth connects as (created by local/bootstrap.sql). */
export const AUTH_DB_ROLE = 'supabase_auth_admin'

export interface DatabaseAddress {
  host: string
  port: number
  database: string
}

/** A connection pool as supabase_auth_admin, for an Auth served outside the stack. */
export function connectAuthDb(at: DatabaseAddress): postgres.Sql {
  return postgres({
    ...at,
    user: AUTH_DB_ROLE,
    password: LOCAL_DB_PASSWORD,
    prepare: false,
    max: 4,
    onnotice: () => {},
  })
}

/**
 * The gateway's /auth/v1 handler; none with [auth] enabled = false, as `supabase start` then
 * runs no Auth. `connect` opens a pool as a role on the stack's database.
 */
export function localAuthHandler(
  settings: AuthSettings,
  deps: { connect: (role: string, max: number) => postgres.Sql; jwtSecret: string },
) {
  if (!settings.enabled) return undefined
  return createAuthHandler({
    sql: deps.connect(AUTH_DB_ROLE, 4),
    jwtSecret: deps.jwtSecret,
    settings,
  })
}
