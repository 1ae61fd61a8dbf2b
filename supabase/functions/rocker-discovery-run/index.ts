// Entry point: Supabase's edge runtime and the local stack both serve this with Deno.serve.
import { createTokenVerifier } from '../_shared/auth.ts'
import { createDb } from '../_shared/db.ts'
import { loadEnv } from '../_shared/env.ts'
import { createDiscoveryRunApp } from './app.ts'
import { loadDiscoveryConfig } from './config.ts'

const env = loadEnv()
const sql = createDb(env.SUPABASE_DB_URL)
const verifier = createTokenVerifier({ jwtSecret: env.JWT_SECRET, jwks: env.SUPABASE_JWKS })

Deno.serve(createDiscoveryRunApp({ sql, verifier, config: loadDiscoveryConfig(), env }).fetch)
