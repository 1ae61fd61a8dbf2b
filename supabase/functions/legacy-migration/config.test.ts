// The function's tuning settings, and the two rollout switches _shared/env.ts parses for it.
import assert from 'node:assert/strict'
import { parseEnv } from '../_shared/env.ts'
import { EnvError } from '../_shared/settings.ts'
import {
  DEFAULT_CONCURRENCY,
  DEFAULT_STORAGE_ATTEMPTS,
  parseLegacyMigrationConfig,
} from './config.ts'

const PLATFORM = {
  SUPABASE_URL: 'http://127.0.0.1:54321',
  SUPABASE_DB_URL: 'postgresql://postgres:postgres@127.0.0.1:54322/postgres',
  SUPABASE_ANON_KEY: 'anon',
  SUPABASE_SERVICE_ROLE_KEY: 'service',
  JWT_SECRET: 'super-secret-jwt-token-with-at-least-32-characters-long',
}

Deno.test('tuning settings default when unset or empty', () => {
  const defaults = { concurrency: DEFAULT_CONCURRENCY, storageAttempts: DEFAULT_STORAGE_ATTEMPTS }
  assert.deepEqual(parseLegacyMigrationConfig({}), defaults)
  assert.deepEqual(
    parseLegacyMigrationConfig({
      LEGACY_MIGRATION_CONCURRENCY: '',
      LEGACY_MIGRATION_STORAGE_ATTEMPTS: '',
    }),
    defaults,
  )
  assert.deepEqual(
    parseLegacyMigrationConfig({
      LEGACY_MIGRATION_CONCURRENCY: '16',
      LEGACY_MIGRATION_STORAGE_ATTEMPTS: '1',
    }),
    { concurrency: 16, storageAttempts: 1 },
  )
})

Deno.test('bad tuning settings fail naming each variable', () => {
  assert.throws(
    () =>
      parseLegacyMigrationConfig({
        LEGACY_MIGRATION_CONCURRENCY: '0',
        LEGACY_MIGRATION_STORAGE_ATTEMPTS: '11',
      }),
    (err: unknown) =>
      err instanceof EnvError &&
      err.issues.map((i) => i.variable).join() ===
        'LEGACY_MIGRATION_CONCURRENCY,LEGACY_MIGRATION_STORAGE_ATTEMPTS',
  )
})

Deno.test('the migration is off and real by default; 1 turns each switch on', () => {
  const unset = parseEnv(PLATFORM)
  assert.equal(unset.ENABLE_LEGACY_MIGRATION, false)
  assert.equal(unset.LEGACY_MIGRATION_DRY_RUN, false)
  const on = parseEnv({ ...PLATFORM, ENABLE_LEGACY_MIGRATION: '1', LEGACY_MIGRATION_DRY_RUN: '1' })
  assert.equal(on.ENABLE_LEGACY_MIGRATION, true)
  assert.equal(on.LEGACY_MIGRATION_DRY_RUN, true)
  const off = parseEnv({ ...PLATFORM, ENABLE_LEGACY_MIGRATION: '0', LEGACY_MIGRATION_DRY_RUN: '0' })
  assert.equal(off.ENABLE_LEGACY_MIGRATION, false)
  assert.equal(off.LEGACY_MIGRATION_DRY_RUN, false)
})

Deno.test('a switch set to anything but 1/0 fails boot naming it', () => {
  assert.throws(
    () => parseEnv({ ...PLATFORM, ENABLE_LEGACY_MIGRATION: 'yes', LEGACY_MIGRATION_DRY_RUN: '2' }),
    (err: unknown) =>
      err instanceof EnvError &&
      err.issues.map((i) => i.variable).join() ===
        'ENABLE_LEGACY_MIGRATION,LEGACY_MIGRATION_DRY_RUN',
  )
})
