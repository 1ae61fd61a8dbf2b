// What the legacy-migration tests share: the app built against the running test stack (real
// Postgres, real Storage through the gateway, with supabase-js as the caller), a call as a
// user, and a context that creates users and removes them, their rows and objects afterwards.
import { objectRoot } from '../../../local/storage/test_helpers.ts'
import { adminSql, testStackEnv, userTestJwt } from '../../../local/testing.ts'
import { createDb, type Sql } from '../_shared/db.ts'
import { NO_SPANS } from '../_shared/spans.ts'
import {
  createLegacyMigrationApp,
  type LegacyMigrationDeps,
  type LegacyMigrationEnv,
} from './app.ts'
import { createUser, type FixtureStack, removeUser } from './testing.ts'

export const env = testStackEnv()

export const appEnv = (overrides: Partial<LegacyMigrationEnv> = {}): LegacyMigrationEnv => ({
  SUPABASE_URL: env.apiUrl,
  SUPABASE_ANON_KEY: env.anonKey,
  JWT_SECRET: env.jwtSecret,
  ENABLE_LEGACY_MIGRATION: true,
  LEGACY_MIGRATION_DRY_RUN: false,
  ...overrides,
})

export type LegacyApp = ReturnType<typeof createLegacyMigrationApp>

/** The app on `sql`, enabled and real unless `env` says otherwise; retries do not wait. */
export function appFor(
  sql: Sql,
  deps: Partial<Omit<LegacyMigrationDeps, 'env'>> & { env?: Partial<LegacyMigrationEnv> } = {},
): LegacyApp {
  const { env: overrides, ...rest } = deps
  return createLegacyMigrationApp({
    sql,
    env: appEnv(overrides),
    spans: NO_SPANS,
    retry: { sleep: () => Promise.resolve() },
    ...rest,
  })
}

// deno-lint-ignore no-explicit-any
export type Json = any

/** POST /legacy-migration as the user (no token for null). */
export async function migrate(
  app: LegacyApp,
  userId: string | null,
): Promise<{ status: number; body: Json }> {
  const res = await app.request('/legacy-migration', {
    method: 'POST',
    headers: userId === null ? {} : { authorization: `Bearer ${await userTestJwt(userId)}` },
  })
  return { status: res.status, body: await res.json() }
}

export interface TestContext {
  sql: Sql
  stack: FixtureStack
  /** The stack's Storage folder on disk. */
  objectRoot: string
  /** A new user, removed with their rows and objects when the test ends. */
  user(label?: string): Promise<string>
}

export async function withContext(fn: (ctx: TestContext) => Promise<void>): Promise<void> {
  const sql = createDb(env.dbUrl)
  const admin = adminSql()
  const stack: FixtureStack = { apiUrl: env.apiUrl, serviceRoleKey: env.serviceRoleKey, admin }
  const users: string[] = []
  try {
    await fn({
      sql,
      stack,
      objectRoot: await objectRoot(admin),
      user: async (label) => {
        const id = await createUser(stack, label)
        users.push(id)
        return id
      },
    })
  } finally {
    for (const id of users) await removeUser(stack, id)
    await sql.end()
    await admin.end()
  }
}

/** The user's migration runs, oldest first. */
export function runsOf(stack: FixtureStack, userId: string) {
  return stack.admin<
    {
      status: string
      message: string | null
      dry_run: boolean
      counts: Record<string, number>
      phase_ms: Record<string, number>
      finished_at: Date | null
    }[]
  >`
    select status, message, dry_run, counts, phase_ms, finished_at
      from public.user_migrations where user_id = ${userId} order by started_at, id`
}
