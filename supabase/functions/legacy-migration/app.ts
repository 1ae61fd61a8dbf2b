// POST /legacy-migration: moves the signed-in caller's legacy casfolio portfolio (casfolio_*
// rows, images in the casfolio-legacy bucket) to activities / activity_assets and the
// activity-assets bucket, acting as the caller throughout (their JWT for Storage, their claims
// for Postgres). Gated by ENABLE_LEGACY_MIGRATION; LEGACY_MIGRATION_DRY_RUN=1 rehearses it
// without changing anything. The phases are in migrate.ts; docs/legacy-migration.md.
import { bearerToken, requireUser, type UserVars } from '../_shared/auth.ts'
import type { Env } from '../_shared/env.ts'
import { forbidden } from '../_shared/errors.ts'
import { type AuthedAppDeps, createFunctionApp, verifierFor } from '../_shared/wiring.ts'
import { type LegacyMigrationConfig, parseLegacyMigrationConfig } from './config.ts'
import { type MigrationContext, runMigration } from './migrate.ts'
import { type MigrationStorage, supabaseStorage } from './storage.ts'

/** The settings the app reads. */
export type LegacyMigrationEnv = Pick<
  Env,
  | 'SUPABASE_URL'
  | 'SUPABASE_ANON_KEY'
  | 'JWT_SECRET'
  | 'SUPABASE_JWKS'
  | 'SENTRY_DSN'
  | 'ENABLE_LEGACY_MIGRATION'
  | 'LEGACY_MIGRATION_DRY_RUN'
>

export interface LegacyMigrationDeps extends AuthedAppDeps<LegacyMigrationEnv> {
  /** index.ts passes loadLegacyMigrationConfig(); default: every setting at its default. */
  config?: LegacyMigrationConfig
  /**
   * Storage acting as the caller whose access token it is given. Default: supabase-js on
   * SUPABASE_URL with SUPABASE_ANON_KEY and that token. Tests wrap it to inject failures.
   */
  storageFor?: (accessToken: string) => MigrationStorage
  /** Backoff overrides for Storage retries. Default: real waits. */
  retry?: MigrationContext['retry']
  /** New activity ids. Default crypto.randomUUID. */
  newId?: () => string
}

export function createLegacyMigrationApp(deps: LegacyMigrationDeps) {
  const { sql, env } = deps
  const verifier = verifierFor(deps)
  // Durations, so monotonic.
  const now = deps.now ?? (() => performance.now())
  const config = deps.config ?? parseLegacyMigrationConfig({})
  const storageFor = deps.storageFor ??
    ((accessToken: string) =>
      supabaseStorage({ url: env.SUPABASE_URL, anonKey: env.SUPABASE_ANON_KEY, accessToken }))
  const app = createFunctionApp<UserVars>('legacy-migration', deps)

  app.use('*', requireUser({ verifier }))

  app.post('/', async (c) => {
    if (!env.ENABLE_LEGACY_MIGRATION) {
      throw forbidden('Legacy migration is disabled: ENABLE_LEGACY_MIGRATION is off', {
        code: 'migration_disabled',
      })
    }
    const result = await runMigration({
      sql,
      claims: c.get('claims'),
      userId: c.get('userId'),
      dryRun: env.LEGACY_MIGRATION_DRY_RUN,
      // requireUser has verified this very token.
      storage: storageFor(bearerToken(c.req.header('authorization'))),
      metrics: c.var.metrics,
      now,
      config,
      retry: deps.retry,
      newId: deps.newId,
    })
    return c.json(result)
  })

  return app
}
