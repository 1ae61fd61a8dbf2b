// legacy-migration's own tuning settings, parsed once from the environment. The two switches
// an operator flips during the rollout (ENABLE_LEGACY_MIGRATION, LEGACY_MIGRATION_DRY_RUN) are
// platform-wide and live in _shared/env.ts.
import { z } from 'zod'
import { intSetting, loadSettings, parseSettings, type RawSettings } from '../_shared/settings.ts'

/** Storage calls in flight at once when LEGACY_MIGRATION_CONCURRENCY is unset. */
export const DEFAULT_CONCURRENCY = 8
/** Tries per Storage call (the first one included) when LEGACY_MIGRATION_STORAGE_ATTEMPTS is unset. */
export const DEFAULT_STORAGE_ATTEMPTS = 4

const schema = z.object({
  // Copies and removals in flight per run. Storage serves each from its own connection, so more
  // lanes help until Storage or the database pool saturates; one user's run should not.
  LEGACY_MIGRATION_CONCURRENCY: intSetting(1, 64, DEFAULT_CONCURRENCY),
  // A Storage call that fails with a network error, 429 or 5xx is retried with capped
  // exponential backoff and jitter, up to this many tries in all.
  LEGACY_MIGRATION_STORAGE_ATTEMPTS: intSetting(1, 10, DEFAULT_STORAGE_ATTEMPTS),
})

export interface LegacyMigrationConfig {
  concurrency: number
  storageAttempts: number
}

const toConfig = (settings: z.output<typeof schema>): LegacyMigrationConfig => ({
  concurrency: settings.LEGACY_MIGRATION_CONCURRENCY,
  storageAttempts: settings.LEGACY_MIGRATION_STORAGE_ATTEMPTS,
})

/** Validates the raw variables; throws EnvError naming each bad one. '' counts as unset. */
export function parseLegacyMigrationConfig(raw: RawSettings): LegacyMigrationConfig {
  return toConfig(parseSettings(schema, raw))
}

/** Reads Deno.env; only index.ts calls this. */
export function loadLegacyMigrationConfig(): LegacyMigrationConfig {
  return toConfig(loadSettings(schema))
}
