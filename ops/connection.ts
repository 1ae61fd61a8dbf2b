// How the ops CLI reaches a project: the database URL and API settings from flags or the
// environment, defaulting to the local dev stack, and a transaction that names the operator so
// every change lands in public.ai_action_ledger with who did it and why.
import postgres from 'postgres'
import { loadProjectConfig } from '../local/config.ts'
import { localKeys } from '../local/keys.ts'

export type Sql = postgres.Sql
export type Tx = postgres.TransactionSql

export interface Target {
  dbUrl: string
  apiUrl: string
  anonKey: string
  serviceRoleKey: string
  /** True when the database or the API is on another machine (a Supabase project). */
  remote: boolean
}

/** One setting of the target: where it comes from and how the operator names it. */
const SETTINGS = [
  { key: 'dbUrl', flag: 'db-url', env: 'SUPABASE_DB_URL' },
  { key: 'apiUrl', flag: 'url', env: 'SUPABASE_URL' },
  { key: 'anonKey', flag: 'anon-key', env: 'SUPABASE_ANON_KEY' },
  { key: 'serviceRoleKey', flag: 'service-key', env: 'SUPABASE_SERVICE_ROLE_KEY' },
] as const

type SettingKey = typeof SETTINGS[number]['key']

/** The command-line spellings of the target settings (parseArgs options for cli.ts). */
export const TARGET_OPTIONS = Object.fromEntries(
  SETTINGS.map((s) => [s.flag, { type: 'string' as const }]),
) as Record<typeof SETTINGS[number]['flag'], { type: 'string' }>

export type TargetFlags = Partial<Record<typeof SETTINGS[number]['flag'], string | undefined>>

/**
 * What a command needs of the target: `db` commands only talk SQL, so a remote database URL
 * alone is a complete target for them; `all` commands also call the API with the keys.
 */
export type TargetUse = 'db' | 'all'

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]', '::1'])

function hostOf(url: string): string {
  try {
    return new URL(url).hostname
  } catch {
    return url
  }
}

const isLocal = (url: string) => LOCAL_HOSTS.has(hostOf(url))

/** The hosts of the target that are not this machine (empty for the local stack). */
export function remoteHosts(target: Pick<Target, 'dbUrl' | 'apiUrl'>): string[] {
  return [target.dbUrl, target.apiUrl].filter((url) => !isLocal(url)).map(hostOf)
}

/**
 * The Supabase project ref a URL names, when it has one of the shapes Supabase hands out:
 * `<ref>.supabase.co` (API), `db.<ref>.supabase.co` (direct database) or user
 * `postgres.<ref>` on `*.pooler.supabase.com` (Supavisor). Null for anything else.
 */
export function projectRef(url: string): string | null {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return null
  }
  const host = parsed.hostname.toLowerCase()
  const direct = /^(?:db\.)?([a-z0-9]+)\.supabase\.co$/.exec(host)
  if (direct) return direct[1]
  const pooler = /^[^.]+\.([a-z0-9]+)$/.exec(decodeURIComponent(parsed.username))
  return host.endsWith('.pooler.supabase.com') && pooler ? pooler[1] : null
}

/**
 * Refuses a remote target that is incomplete or mixed: anything the command needs left unset
 * (a local default would be used against the project), a database and an API on different
 * sides (one local, one remote), the CLI's demo keys (public, so never a project's), or a
 * database and an API that name different projects.
 */
function refuseMixedRemote(
  given: Partial<Record<SettingKey, string>>,
  use: TargetUse,
  demo: { anonKey: string; serviceRoleKey: string },
) {
  const remote = remoteHosts({ dbUrl: given.dbUrl ?? '', apiUrl: given.apiUrl ?? '' })
    .filter((h) => h !== '')
  if (!remote.length) return
  const needed = use === 'db' ? SETTINGS.filter((s) => s.key === 'dbUrl') : SETTINGS
  const missing = needed.filter((s) => !given[s.key])
  const lead = `the target is remote (${remote.join(', ')}) but`
  if (missing.length) {
    throw new UsageError(
      `${lead} ` + missing.map((s) => `--${s.flag} / ${s.env}`).join(', ') +
        ` ${missing.length === 1 ? 'is' : 'are'} not set; local defaults are never mixed ` +
        `with a remote project`,
    )
  }
  const local = SETTINGS.filter((s) =>
    (s.key === 'dbUrl' || s.key === 'apiUrl') && given[s.key] !== undefined &&
    isLocal(given[s.key]!)
  )
  if (local.length) {
    throw new UsageError(
      `${lead} ${local.map((s) => `--${s.flag} / ${s.env}`).join(', ')} points at this ` +
        `machine; a remote database and a local API (or the reverse) are never mixed`,
    )
  }
  if (use === 'all') {
    const demoKeys = SETTINGS.filter((s) =>
      (s.key === 'anonKey' || s.key === 'serviceRoleKey') && given[s.key] === demo[s.key]
    )
    if (demoKeys.length) {
      throw new UsageError(
        `${lead} ${demoKeys.map((s) => `--${s.flag} / ${s.env}`).join(', ')} ` +
          `${demoKeys.length === 1 ? 'is' : 'are'} the local stack's demo ` +
          `${demoKeys.length === 1 ? 'key' : 'keys'}; use the project's keys`,
      )
    }
  }
  const dbRef = given.dbUrl ? projectRef(given.dbUrl) : null
  const apiRef = given.apiUrl ? projectRef(given.apiUrl) : null
  if (dbRef && apiRef && dbRef !== apiRef) {
    throw new UsageError(
      `the database URL names project ${dbRef} but the API URL names project ${apiRef}`,
    )
  }
}

/**
 * The project to act on: each setting from its flag, else its SUPABASE_* variable, else the
 * local dev stack (the ports supabase/config.toml gives it, the CLI's well-known keys). Local
 * defaults are never mixed into a remote target (see refuseMixedRemote), since the local keys
 * would be rejected there or, worse, the local database quietly checked instead.
 */
export async function resolveTarget(
  env: Record<string, string | undefined>,
  flags: TargetFlags = {},
  use: TargetUse = 'all',
): Promise<Target> {
  const given: Partial<Record<SettingKey, string>> = {}
  for (const s of SETTINGS) {
    // `--db-url "$SECRET"` with the secret unset must not quietly mean the local stack.
    if (flags[s.flag] !== undefined && !flags[s.flag]?.trim()) {
      throw new UsageError(`--${s.flag} is empty`)
    }
    const value = flags[s.flag]?.trim() || env[s.env]?.trim()
    if (value) given[s.key] = value
  }
  const keys = await localKeys()
  refuseMixedRemote(given, use, keys)
  const config = await loadProjectConfig()
  const target = {
    dbUrl: given.dbUrl ?? `postgresql://postgres:postgres@127.0.0.1:${config.dbPort}/postgres`,
    apiUrl: (given.apiUrl ?? `http://127.0.0.1:${config.apiPort}`).replace(/\/$/, ''),
    anonKey: given.anonKey ?? keys.anonKey,
    serviceRoleKey: given.serviceRoleKey ?? keys.serviceRoleKey,
  }
  return { ...target, remote: remoteHosts(target).length > 0 }
}

export function connect(dbUrl: string): Sql {
  return postgres(dbUrl, { prepare: false, max: 2, onnotice: () => {}, connect_timeout: 5 })
}

export interface Operator {
  /** Recorded as the ledger's actor (the ledger reads `app.actor`). */
  actor: string
  /** Recorded as the ledger's reason (`app.reason`); required for every change. */
  reason: string
}

export class UsageError extends Error {}

/** Runs `fn` in one transaction in which the ledger attributes changes to the operator. */
export function asOperator<T>(sql: Sql, op: Operator, fn: (tx: Tx) => Promise<T>): Promise<T> {
  if (!op.reason.trim()) throw new UsageError('--reason is required for every change')
  return sql.begin(async (tx) => {
    await tx`select set_config('app.actor', ${op.actor}, true),
                    set_config('app.reason', ${op.reason}, true)`
    return await fn(tx)
  }) as Promise<T>
}
