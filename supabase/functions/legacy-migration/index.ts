// Entry point: Supabase's edge runtime and the local stack both serve this with Deno.serve.
import { createDb, dbOptions } from '../_shared/db.ts'
import { loadEnv } from '../_shared/env.ts'
import { createLegacyMigrationApp } from './app.ts'
import { loadLegacyMigrationConfig } from './config.ts'

const env = loadEnv()
const sql = createDb(env.SUPABASE_DB_URL, dbOptions(env))

Deno.serve(createLegacyMigrationApp({ sql, env, config: loadLegacyMigrationConfig() }).fetch)
