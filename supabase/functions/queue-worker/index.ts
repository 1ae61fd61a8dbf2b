// Entry point: Supabase's edge runtime and the local stack both serve this with Deno.serve.
import { createDb, dbOptions } from '../_shared/db.ts'
import { loadEnv } from '../_shared/env.ts'
import { createQueueWorkerApp } from './app.ts'
import { loadQueueWorkerConfig } from './config.ts'
import { productionRegistry } from './registry.ts'

const env = loadEnv()
const sql = createDb(env.SUPABASE_DB_URL, dbOptions(env))

Deno.serve(
  createQueueWorkerApp({
    sql,
    env,
    registry: productionRegistry(),
    config: loadQueueWorkerConfig(),
  })
    .fetch,
)
