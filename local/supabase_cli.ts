// The real Supabase CLI, run through Deno's npm support: no Docker, no global install. The npm
// package `supabase` is a small launcher; the native binary comes from its per-platform optional
// dependency (`@supabase/cli-linux-x64`, …), which Deno fetches into its npm cache
// ($DENO_DIR/npm/registry.npmjs.org/@supabase/) on first use. Against a database URL the CLI
// needs no containers: `db push`, `db lint`, `migration list` and `inspect db …` all work.
import { ROOT } from './paths.ts'
import { run, type RunResult } from './proc.ts'

/** Pinned: newer releases are not published for every platform this project runs on. */
export const SUPABASE_CLI_VERSION = '2.117.0'

/**
 * `--no-config --no-lock`: the CLI is a tool, not a dependency of the code, so it stays out of
 * deno.json's import map and out of the frozen deno.lock, which would refuse to record it.
 */
const LAUNCH = ['run', '--no-config', '--no-lock', '-A', `npm:supabase@${SUPABASE_CLI_VERSION}`]

// No telemetry or update checks: they cost time per call and reach hosts CI may not reach.
const QUIET = {
  DO_NOT_TRACK: '1',
  SUPABASE_TELEMETRY_DISABLED: '1',
  SUPABASE_NO_UPDATE_NOTIFIER: '1',
}

/** The local server has no TLS, and the CLI would otherwise insist on negotiating it. */
export function cliDbUrl(url: string): string {
  return `${url}${url.includes('?') ? '&' : '?'}sslmode=disable`
}

/** Runs `supabase <args…>` on this project (supabase/config.toml, migrations, seeds). */
export function supabase(args: string[]): Promise<RunResult> {
  return run([Deno.execPath(), ...LAUNCH, ...args, '--workdir', ROOT], { cwd: ROOT, env: QUIET })
}

/** The command line a developer types from the repository root, for printing. */
export function supabaseCommandLine(args: string[]): string {
  const quote = (arg: string) => /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg}'`
  return ['npx', '--yes', `deno@${Deno.version.deno}`, ...LAUNCH, ...args].map(quote).join(' ')
}

function failure(args: string[], res: RunResult): Error {
  const output = `${res.stdout}\n${res.stderr}`.trim()
  return new Error(`supabase ${args[0]} ${args[1] ?? ''} failed (exit ${res.code}):\n${output}`)
}

/**
 * `supabase db push --include-seed`: each pending migration in its own transaction, recorded in
 * supabase_migrations.schema_migrations, then the config's seeds not yet recorded (by path and
 * hash) in supabase_migrations.seed_files. `--include-all` applies a migration older than the
 * newest applied one too (a dev database that already has a later branch's migration), as
 * `supabase db reset` would by rebuilding; a fresh database has no such gap.
 * Returns the CLI's progress lines ("Applying migration …", "Seeding data from …").
 */
export async function dbPush(dbUrl: string): Promise<string[]> {
  const args = ['db', 'push', '--db-url', cliDbUrl(dbUrl), '--include-all', '--include-seed']
  const res = await supabase([...args, '--yes'])
  if (res.code !== 0) throw failure(args, res)
  return `${res.stdout}\n${res.stderr}`.split('\n').map((line) => line.trim())
    .filter((line) => /^(Applying migration|Seeding data|Updating seed hash)/.test(line))
}

/** The schemas `db lint` checks: ours (auth, storage, … belong to the platform). */
export const LINT_SCHEMAS = 'public,ops'

/** `supabase db lint` (plpgsql_check over every function) at warning level; [] when clean. */
export async function dbLint(dbUrl: string): Promise<unknown[]> {
  const args = ['db', 'lint', '--db-url', cliDbUrl(dbUrl), '--schema', LINT_SCHEMAS]
  const res = await supabase([...args, '--level', 'warning', '--fail-on', 'none'])
  if (res.code !== 0) throw failure(args, res)
  // A clean run prints nothing (or "No schema errors found") instead of a JSON array.
  const json = res.stdout.slice(res.stdout.indexOf('['))
  return res.stdout.includes('[') ? JSON.parse(json) as unknown[] : []
}

export interface MigrationRow {
  local: string
  remote: string
}

/** `supabase migration list`: each version with its local file and its database record. */
export async function migrationList(dbUrl: string): Promise<MigrationRow[]> {
  const args = ['migration', 'list', '--db-url', cliDbUrl(dbUrl)]
  const res = await supabase([...args, '--output-format', 'json'])
  if (res.code !== 0) throw failure(args, res)
  return (JSON.parse(res.stdout) as { migrations: MigrationRow[] }).migrations
}

/** `supabase inspect db <report>` (outliers, calls, bloat, locks, …); its table as text. */
export async function inspectDb(dbUrl: string, report: string): Promise<string> {
  const args = ['inspect', 'db', report, '--db-url', cliDbUrl(dbUrl)]
  const res = await supabase(args)
  if (res.code !== 0) throw failure(args, res)
  return res.stdout
}
