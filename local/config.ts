// Reads supabase/config.toml: the same file the Supabase CLI reads, so ports, seeds and
// per-function verify_jwt settings have one source of truth locally and when deployed.
import { parse } from 'smol-toml'
import { FUNCTIONS_DIR, SUPABASE_DIR } from './paths.ts'
import { pathExists } from './files.ts'
import { parseStorageSettings, type StorageSettings } from './storage/settings.ts'

export interface FunctionConfig {
  name: string
  verifyJwt: boolean
  /** Absolute path of the function's entrypoint (index.ts unless config.toml says otherwise). */
  entrypoint: string
}

/** The `[auth]` / `[auth.email]` settings the local Auth (local/auth) honours, GoTrue's defaults. */
export interface AuthSettings {
  /** `[auth] enabled`: off → nothing is served at /auth/v1, as `supabase start` skips Auth. */
  enabled: boolean
  /** `[auth] jwt_expiry`: access token lifetime in seconds. Default 3600. */
  jwtExpiry: number
  /** `[auth] enable_signup`: off → signup answers 422 signup_disabled. Default true. */
  enableSignup: boolean
  /** `[auth.email] enable_signup`: the email provider itself (signup and sign-in). Default true. */
  emailEnabled: boolean
  /**
   * `[auth.email] enable_confirmations`: on → signup returns the user without a session and
   * password sign-in answers email_not_confirmed until confirmed. Default false (confirmed at
   * signup, as the CLI's local Auth autoconfirms).
   */
  enableConfirmations: boolean
  /** `[auth] minimum_password_length`. Default 6. */
  minimumPasswordLength: number
  /** `[auth] enable_refresh_token_rotation`: reuse of a spent token revokes its session's tokens. */
  enableRefreshTokenRotation: boolean
  /** `[auth] refresh_token_reuse_interval`: seconds a spent refresh token still works. Default 10. */
  refreshTokenReuseInterval: number
}

export const DEFAULT_AUTH_SETTINGS: Readonly<AuthSettings> = {
  enabled: true,
  jwtExpiry: 3600,
  enableSignup: true,
  emailEnabled: true,
  enableConfirmations: false,
  minimumPasswordLength: 6,
  enableRefreshTokenRotation: true,
  refreshTokenReuseInterval: 10,
}

export interface ProjectConfig {
  apiPort: number
  dbPort: number
  majorVersion: number
  seedPatterns: string[]
  functions: Map<string, FunctionConfig>
  auth: AuthSettings
  /** `[storage]` and its `[storage.buckets.*]` (local/storage serves it and seeds the buckets). */
  storage: StorageSettings
}

type Table = Record<string, unknown>

function table(value: unknown): Table {
  return value !== null && typeof value === 'object' ? value as Table : {}
}

function resolveFromSupabaseDir(path: string): string {
  return path.startsWith('/') ? path : `${SUPABASE_DIR}/${path.replace(/^\.\//, '')}`
}

export async function loadProjectConfig(
  path = `${SUPABASE_DIR}/config.toml`,
): Promise<ProjectConfig> {
  const doc = parse(await Deno.readTextFile(path)) as Table
  const api = table(doc.api)
  const db = table(doc.db)
  const seed = table(db.seed)
  const functions = new Map<string, FunctionConfig>()
  for (const [name, raw] of Object.entries(table(doc.functions))) {
    const fn = table(raw)
    if (fn.enabled === false) continue
    functions.set(name, {
      name,
      // Supabase's default is to verify: a function must opt out explicitly.
      verifyJwt: fn.verify_jwt !== false,
      entrypoint: typeof fn.entrypoint === 'string'
        ? resolveFromSupabaseDir(fn.entrypoint)
        : `${FUNCTIONS_DIR}/${name}/index.ts`,
    })
  }
  return {
    apiPort: Number(api.port ?? 54321),
    dbPort: Number(db.port ?? 54322),
    majorVersion: Number(db.major_version ?? 15),
    seedPatterns: seed.enabled === false
      ? []
      : (Array.isArray(seed.sql_paths) ? seed.sql_paths.map(String) : ['./seed.sql']),
    functions,
    auth: parseAuthSettings(table(doc.auth)),
    storage: parseStorageSettings(table(doc.storage)),
  }
}

/** Reads `[auth]` and `[auth.email]`; a key of the wrong type throws naming it. */
export function parseAuthSettings(auth: Table): AuthSettings {
  const email = table(auth.email)
  const flag = (t: Table, section: string, key: string, fallback: boolean) => {
    const value = t[key] ?? fallback
    if (typeof value !== 'boolean') {
      throw new Error(`config.toml: [${section}] ${key} must be true or false`)
    }
    return value
  }
  const integer = (key: string, fallback: number, min: number) => {
    const value = auth[key] ?? fallback
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      throw new Error(`config.toml: [auth] ${key} must be an integer >= ${min}`)
    }
    return value
  }
  const d = DEFAULT_AUTH_SETTINGS
  return {
    enabled: flag(auth, 'auth', 'enabled', d.enabled),
    jwtExpiry: integer('jwt_expiry', d.jwtExpiry, 1),
    enableSignup: flag(auth, 'auth', 'enable_signup', d.enableSignup),
    emailEnabled: flag(email, 'auth.email', 'enable_signup', d.emailEnabled),
    enableConfirmations: flag(email, 'auth.email', 'enable_confirmations', d.enableConfirmations),
    minimumPasswordLength: integer('minimum_password_length', d.minimumPasswordLength, 1),
    enableRefreshTokenRotation: flag(
      auth,
      'auth',
      'enable_refresh_token_rotation',
      d.enableRefreshTokenRotation,
    ),
    refreshTokenReuseInterval: integer(
      'refresh_token_reuse_interval',
      d.refreshTokenReuseInterval,
      0,
    ),
  }
}

/** Expands seed patterns ("./seed/*.sql") the way the CLI does: sorted, de-duplicated. */
export async function expandSeedPaths(patterns: string[]): Promise<string[]> {
  const out: string[] = []
  for (const pattern of patterns) {
    const abs = resolveFromSupabaseDir(pattern)
    const slash = abs.lastIndexOf('/')
    const dir = abs.slice(0, slash)
    const base = abs.slice(slash + 1)
    if (!base.includes('*')) {
      if (await pathExists(abs)) out.push(abs)
      continue
    }
    const re = new RegExp('^' + base.split('*').map(escapeRegExp).join('.*') + '$')
    const names: string[] = []
    try {
      for await (const entry of Deno.readDir(dir)) {
        if (entry.isFile && re.test(entry.name)) names.push(entry.name)
      }
    } catch (err) {
      if (!(err instanceof Deno.errors.NotFound)) throw err
    }
    out.push(...names.sort().map((n) => `${dir}/${n}`))
  }
  return [...new Set(out)]
}

function escapeRegExp(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')
}
