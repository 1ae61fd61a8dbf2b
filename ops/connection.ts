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

/** The hosts of the target that are not this machine (empty for the local stack). */
export function remoteHosts(target: Pick<Target, 'dbUrl' | 'apiUrl'>): string[] {
  return [target.dbUrl, target.apiUrl].map(hostOf).filter((h) => !LOCAL_HOSTS.has(h))
}

/**
 * The project to act on: each setting from its flag, else its SUPABASE_* variable, else the
 * local dev stack (the ports supabase/config.toml gives it, the CLI's well-known keys). Local
 * defaults are never mixed into a remote target: a remote database or URL with a setting the
 * command needs left unset is refused, naming each missing flag and variable, since the local
 * keys would be rejected there (or, worse, the local database quietly checked instead).
 */
export async function resolveTarget(
  env: Record<string, string | undefined>,
  flags: TargetFlags = {},
  use: TargetUse = 'all',
): Promise<Target> {
  const given: Partial<Record<SettingKey, string>> = {}
  for (const s of SETTINGS) {
    const value = flags[s.flag]?.trim() || env[s.env]?.trim()
    if (value) given[s.key] = value
  }
  const remote = remoteHosts({ dbUrl: given.dbUrl ?? '', apiUrl: given.apiUrl ?? '' })
    .filter((h) => h !== '')
  if (remote.length) {
    const needed = use === 'db' ? SETTINGS.filter((s) => s.key === 'dbUrl') : SETTINGS
    const missing = needed.filter((s) => !given[s.key])
    if (missing.length) {
      throw new UsageError(
        `the target is remote (${remote.join(', ')}) but ` +
          missing.map((s) => `--${s.flag} / ${s.env}`).join(', ') +
          ` ${missing.length === 1 ? 'is' : 'are'} not set; local defaults are never mixed ` +
          `with a remote project`,
      )
    }
  }
  const keys = await localKeys()
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
