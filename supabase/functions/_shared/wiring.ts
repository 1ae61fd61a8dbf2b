// What every function's app factory takes (AppDeps) and how it fills in what the caller left
// out, so each index.ts is `createXApp({ sql, env, … })` and each test swaps in only what it needs.
import { createTokenVerifier, type TokenVerifier } from './auth.ts'
import type { Sql } from './db.ts'
import type { Env } from './env.ts'
import { createApp } from './http.ts'
import { createErrorReporter } from './sentry.ts'

/**
 * A clock reading in milliseconds, injectable so tests control time. Code that measures spans
 * (budgets, deadlines, durations) defaults to performance.now, which is monotonic; code that
 * stamps a moment defaults to Date.now (milliseconds since the Unix epoch).
 */
export type Clock = () => number

/** The dependencies every app factory takes, besides its own. */
export interface AppDeps<E extends Partial<Env> = Env> {
  /** The function's one database client (index.ts: `createDb(env.SUPABASE_DB_URL)`). */
  sql: Sql
  /** The parsed environment, or the slice of it the app reads. */
  env: E
  /** The app's clock; each app documents which default it uses. */
  now?: Clock
}

/** What a verifier is built from. */
export type VerifierEnv = Pick<Env, 'JWT_SECRET' | 'SUPABASE_JWKS'>

/** The dependencies of an app whose routes check the caller's JWT. */
export interface AuthedAppDeps<E extends VerifierEnv = Env> extends AppDeps<E> {
  /** Checks bearer tokens. Default: one built from env's JWT_SECRET and SUPABASE_JWKS. */
  verifier?: TokenVerifier
}

/** The injected verifier, or the one the project's keys in env make. */
export function verifierFor(deps: { env: VerifierEnv; verifier?: TokenVerifier }): TokenVerifier {
  return deps.verifier ??
    createTokenVerifier({ jwtSecret: deps.env.JWT_SECRET, jwks: deps.env.SUPABASE_JWKS })
}

/** A function's Hono app under `/<name>`, reporting unexpected errors to Sentry (when set). */
export function createFunctionApp<V extends object = Record<never, never>>(
  name: string,
  env: Pick<Env, 'SENTRY_DSN'>,
) {
  return createApp<V>(name, { reportError: createErrorReporter(env) })
}
