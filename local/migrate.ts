// Prepares a database the way `supabase db reset` does: the platform bootstrap through psql
// (on Supabase it is the image, not a migration), then migrations and seeds through the real
// Supabase CLI's `db push`, so they are applied and recorded exactly as on a Supabase project.
import { BOOTSTRAP_SQL, ROOT } from './paths.ts'
import { mustRun } from './proc.ts'
import { sha256Hex } from './files.ts'
import { dbPush } from './supabase_cli.ts'

export interface Psql {
  binDir: string
  url: string
}

function psqlArgs(db: Psql, ...rest: string[]): string[] {
  return [`${db.binDir}/psql`, db.url, '-X', '-q', '-v', 'ON_ERROR_STOP=1', ...rest]
}

/** Runs SQL files in one transaction; psql reports the failing file and line. */
export async function runSqlFiles(db: Psql, files: string[]): Promise<void> {
  await mustRun(psqlArgs(db, '--single-transaction', ...files.flatMap((f) => ['-f', f])))
}

/** Runs SQL given on standard input, so values in it never appear in a process listing. */
export async function query(db: Psql, sql: string): Promise<string> {
  return (await mustRun(psqlArgs(db, '-At'), { stdin: sql })).stdout.trim()
}

/** A dollar-quote tag that does not occur in the text, so any file can be stored verbatim. */
function dollarQuote(text: string): string {
  let tag = 'ek'
  while (text.includes(`$${tag}$`)) tag += '_'
  return `$${tag}$${text}$${tag}$`
}

export async function applyBootstrap(db: Psql): Promise<void> {
  await runSqlFiles(db, [BOOTSTRAP_SQL])
}

/**
 * Makes `db push` run again every seed file edited since it was applied. The CLI records each
 * seed's path and hash in supabase_migrations.seed_files, but for a changed file it only updates
 * the hash ("Updating seed hash"), so an edited seed would never reach a dev database. Dropping
 * the stale row makes the CLI see the file as new and run it. Seeds must therefore be
 * idempotent (`on conflict do nothing/update`).
 */
export async function forgetChangedSeeds(db: Psql, files: string[]): Promise<void> {
  const rows: string[] = []
  for (const file of files) {
    // The CLI records the path relative to the project folder (its --workdir).
    const path = file.startsWith(`${ROOT}/`) ? file.slice(ROOT.length + 1) : file
    rows.push(`(${dollarQuote(path)}, '${await sha256Hex(await Deno.readTextFile(file))}')`)
  }
  if (rows.length === 0) return
  // The ledger exists only once the CLI has seeded this database.
  await query(
    db,
    `do $do$ begin
       if pg_catalog.to_regclass('supabase_migrations.seed_files') is not null then
         delete from supabase_migrations.seed_files s
         using (values ${rows.join(', ')}) as local_seed(path, hash)
         where s.path = local_seed.path and s.hash <> local_seed.hash;
       end if;
     end $do$`,
  )
}

/** Applies pending migrations and new or changed seeds with `supabase db push`. */
export async function pushMigrationsAndSeeds(
  db: Psql,
  seedFiles: string[],
  log: (line: string) => void,
): Promise<void> {
  await forgetChangedSeeds(db, seedFiles)
  const started = performance.now()
  const lines = await dbPush(db.url)
  for (const line of lines) log(`supabase db push: ${line}`)
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  log(`supabase db push: ${lines.length ? 'done' : 'nothing to apply'} in ${seconds} s`)
}

/**
 * The URL and key pg_cron jobs read from Vault to call functions, as Supabase documents it.
 * Upserted so a restarted stack on another port repoints its jobs.
 */
export async function storeVaultSecrets(db: Psql, secrets: Record<string, string>) {
  for (const [name, value] of Object.entries(secrets)) {
    await query(
      db,
      `do $do$ begin
         if exists (select 1 from vault.secrets where name = ${dollarQuote(name)}) then
           perform vault.update_secret(
             (select id from vault.secrets where name = ${dollarQuote(name)}),
             ${dollarQuote(value)});
         else
           perform vault.create_secret(${dollarQuote(value)}, ${dollarQuote(name)});
         end if;
       end $do$`,
    )
  }
}
