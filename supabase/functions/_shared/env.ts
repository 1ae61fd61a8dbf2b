// The platform's variables (Supabase's and the JWT secret), parsed once with zod into a typed Env
// that is injected everywhere. Each function's own settings live in its config.ts.
import { z } from 'zod'
import type { JSONWebKeySet } from 'jose'
import { DEFAULT_LOCK_TIMEOUT_MS, DEFAULT_STATEMENT_TIMEOUT_MS } from './db.ts'
import {
  intSetting,
  loadSettings,
  parseSettings,
  type RawSettings,
  switchSetting,
} from './settings.ts'

// A missing variable and an empty one mean the same thing to an operator, so both read "required".
const required = (iss: { input: unknown }) =>
  iss.input === undefined ? 'required' : 'must be a string'

const requiredString = z.string({ error: required }).min(1, { error: 'required' })

const httpUrl = requiredString.pipe(
  z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
)

const postgresUrl = requiredString.pipe(
  z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// URL' }),
)

const jwk = z.looseObject({
  kty: z.string({ error: 'each key needs a "kty"' }),
  kid: z.string().optional(),
  alg: z.string().optional(),
})

// SUPABASE_JWKS arrives as a JSON string; decode it here so a malformed value fails at boot, not
// on the first request that needs it.
const jwks = z.string().transform((text, ctx): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be a JSON Web Key Set (invalid JSON)' })
    return z.NEVER
  }
}).pipe(
  z.object({ keys: z.array(jwk, { error: 'must be a JSON Web Key Set ({"keys": [...]})' }) }, {
    error: 'must be a JSON Web Key Set ({"keys": [...]})',
  }),
)

/**
 * Whether SUPABASE_JWKS holds a key. A value that failed to parse counts as present: it is
 * reported on its own, and "set one of them" would be a second, misleading complaint.
 */
function hasKeys(jwks: unknown): boolean {
  if (jwks === undefined) return false
  const keys = (jwks as { keys?: unknown }).keys
  return !Array.isArray(keys) || keys.length > 0
}

const schema = z.object({
  SUPABASE_URL: httpUrl,
  SUPABASE_DB_URL: postgresUrl,
  SUPABASE_ANON_KEY: requiredString,
  SUPABASE_SERVICE_ROLE_KEY: requiredString,
  SUPABASE_JWKS: jwks.optional(),
  // HS256 project secret. Hosted Supabase reserves SUPABASE_* names, so it is set with
  // `supabase secrets set JWT_SECRET=…`; the local gateway injects it. Short secrets make HS256
  // brute-forceable, hence the floor Supabase itself applies.
  JWT_SECRET: z.string().min(32, { error: 'must be at least 32 characters' }).optional(),
  SENTRY_DSN: z.url({ error: 'must be a URL' }).optional(),
  // Set by Supabase's edge runtime (absent locally); they tag Sentry events so an error can be
  // traced to the region and the isolate run that raised it.
  SB_REGION: z.string().max(100, { error: 'must be at most 100 characters' }).optional(),
  SB_EXECUTION_ID: z.string().max(200, { error: 'must be at most 200 characters' }).optional(),
  // Usage metrics (_shared/metrics.ts): off unless 1. The sample rate is the percentage of
  // events kept; events go to the log, and to the webhook when one is set.
  ENABLE_USAGE_METRICS: switchSetting(false),
  METRICS_SOURCE: z.string()
    .max(100, { error: 'must be at most 100 characters' })
    .default('casfolio-web'),
  METRICS_SAMPLE_RATE: intSetting(1, 100, 100),
  METRICS_WEBHOOK_URL: httpUrl.optional(),
  // A token a Prometheus scraper may present for GET /health/metrics instead of the service_role
  // key (which would let it do anything). Long enough not to be guessed.
  METRICS_BEARER: z.string().min(32, { error: 'must be at least 32 characters' }).optional(),
  // legacy-migration's master switch (off: the endpoint answers 403, so production stays gated
  // until rollout day) and its rehearsal mode (1: the whole workload, then everything undone).
  ENABLE_LEGACY_MIGRATION: switchSetting(false),
  LEGACY_MIGRATION_DRY_RUN: switchSetting(false),
  // Bounds on every database session a function opens (db.ts): the longest lock wait and the
  // longest statement, in ms. 0 (Postgres' "no limit") is refused: waiting without limit is what
  // they are there to stop. The statement ceiling stays under the paid plans' 400 s wall clock.
  FUNCTION_DB_LOCK_TIMEOUT_MS: intSetting(1, 600_000, DEFAULT_LOCK_TIMEOUT_MS),
  FUNCTION_DB_STATEMENT_TIMEOUT_MS: intSetting(1, 400_000, DEFAULT_STATEMENT_TIMEOUT_MS),
}).superRefine((env, ctx) => {
  // Without a secret or a non-empty key set no token could ever verify, so fail at boot.
  if (env.JWT_SECRET !== undefined || hasKeys(env.SUPABASE_JWKS)) return
  const message = 'set JWT_SECRET or SUPABASE_JWKS with at least one key'
  ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message })
  ctx.addIssue({ code: 'custom', path: ['SUPABASE_JWKS'], message })
}, {
  // Also run when other variables failed, so this is reported together with every other
  // problem, not only once they are fixed.
  when: () => true,
})

export type Env = Omit<z.output<typeof schema>, 'SUPABASE_JWKS'> & {
  SUPABASE_JWKS?: JSONWebKeySet
}

/** Validates raw environment values; throws EnvError naming each missing or invalid variable. */
export function parseEnv(raw: RawSettings): Env {
  return parseSettings(schema, raw) as Env
}

let cached: Env | undefined

/** Reads Deno.env once per isolate. Only index.ts files call this; everything else takes an Env. */
export function loadEnv(): Env {
  cached ??= loadSettings(schema) as Env
  return cached
}
