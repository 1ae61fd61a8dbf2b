// Parses the function environment once, with zod, into a typed object that is injected everywhere.
import { z } from 'zod'
import type { JSONWebKeySet } from 'jose'

/** Raised when the environment is unusable; the message names every bad variable. */
export class EnvError extends Error {
  override readonly name = 'EnvError'
  constructor(readonly issues: readonly { variable: string; message: string }[]) {
    super(`Invalid environment: ${issues.map((i) => `${i.variable}: ${i.message}`).join('; ')}`)
  }
}

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
})

/** The names parseEnv reads; everything else in the environment is ignored. */
export const ENV_KEYS = Object.keys(schema.shape) as (keyof typeof schema.shape)[]

export type Env = Omit<z.output<typeof schema>, 'SUPABASE_JWKS'> & {
  SUPABASE_JWKS?: JSONWebKeySet
}

/** Validates raw environment values; throws EnvError naming each missing or invalid variable. */
export function parseEnv(raw: Record<string, string | undefined>): Env {
  // Optional variables set to '' (a common deploy-template leftover) count as unset.
  const cleaned = Object.fromEntries(
    ENV_KEYS.map((key) => [key, raw[key] === '' ? undefined : raw[key]]),
  )
  const result = schema.safeParse(cleaned)
  const issues = result.success ? [] : result.error.issues.map((issue) => ({
    variable: String(issue.path[0] ?? '(environment)'),
    message: issue.message,
  }))
  // Without a secret or a non-empty key set no token could ever verify, so fail at boot. Checked
  // outside zod so it is reported together with every other problem, not only once they are fixed.
  const keyCount = result.success
    ? result.data.SUPABASE_JWKS?.keys.length ?? 0
    : cleaned.SUPABASE_JWKS === undefined
    ? 0
    : 1
  if (cleaned.JWT_SECRET === undefined && keyCount === 0) {
    const message = 'set JWT_SECRET or SUPABASE_JWKS with at least one key'
    issues.push({ variable: 'JWT_SECRET', message }, { variable: 'SUPABASE_JWKS', message })
  }
  if (!result.success || issues.length > 0) throw new EnvError(issues)
  return result.data as Env
}

let cached: Env | undefined

/** Reads Deno.env once per isolate. Only index.ts files call this; everything else takes an Env. */
export function loadEnv(): Env {
  cached ??= parseEnv(Object.fromEntries(ENV_KEYS.map((key) => [key, Deno.env.get(key)])))
  return cached
}
