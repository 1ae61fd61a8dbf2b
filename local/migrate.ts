// Applies the platform bootstrap, migrations and seeds the way `supabase db reset` does:
// each migration in its own transaction, recorded in supabase_migrations.schema_migrations,
// so a half-applied file never leaves a trace.
import { BOOTSTRAP_SQL, MIGRATIONS_DIR } from './paths.ts'
import { mustRun } from './proc.ts'
import { sha256Hex } from './files.ts'

export interface Psql {
  binDir: string
  url: string
}

const MIGRATION_FILE = /^(\d{14})_(.+)\.sql$/

export interface Migration {
  version: string
  name: string
  path: string
}

export async function listMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const out: Migration[] = []
  for await (const entry of Deno.readDir(dir)) {
    const m = entry.isFile ? MIGRATION_FILE.exec(entry.name) : null
    if (m) out.push({ version: m[1], name: m[2], path: `${dir}/${entry.name}` })
  }
  return out.sort((a, b) => a.version.localeCompare(b.version))
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

export async function applyMigrations(db: Psql, log: (line: string) => void): Promise<number> {
  const applied = new Set(
    (await query(db, 'select version from supabase_migrations.schema_migrations'))
      .split('\n').filter(Boolean),
  )
  let count = 0
  for (const m of await listMigrations()) {
    if (applied.has(m.version)) continue
    const text = await Deno.readTextFile(m.path)
    const record = await Deno.makeTempFile({ suffix: '.sql' })
    await Deno.writeTextFile(
      record,
      `insert into supabase_migrations.schema_migrations(version, name, statements)\n` +
        `values ('${m.version}', '${m.name}', array[${dollarQuote(text)}]);\n`,
    )
    await Deno.chmod(record, 0o644)
    try {
      await runSqlFiles(db, [m.path, record])
    } finally {
      await Deno.remove(record)
    }
    log(`applied migration ${m.version}_${m.name}`)
    count++
  }
  return count
}

/**
 * Applies seed files that are new or changed since they were last applied (the CLI keeps the
 * same ledger in supabase_migrations.seed_files). Seeds must therefore be idempotent.
 */
export async function applySeeds(
  db: Psql,
  files: string[],
  log: (line: string) => void,
): Promise<number> {
  await query(
    db,
    `create table if not exists supabase_migrations.seed_files(
       path text primary key, hash text not null)`,
  )
  const known = new Map(
    (await query(db, `select path || '|' || hash from supabase_migrations.seed_files`))
      .split('\n').filter(Boolean).map((row) => row.split('|') as [string, string]),
  )
  let count = 0
  for (const file of files) {
    const text = await Deno.readTextFile(file)
    const hash = await sha256Hex(text)
    const rel = file.slice(file.indexOf('/supabase/') + 1)
    if (known.get(rel) === hash) continue
    const record = await Deno.makeTempFile({ suffix: '.sql' })
    await Deno.writeTextFile(
      record,
      `insert into supabase_migrations.seed_files(path, hash) values ('${rel}', '${hash}')\n` +
        `on conflict (path) do update set hash = excluded.hash;\n`,
    )
    await Deno.chmod(record, 0o644)
    try {
      await runSqlFiles(db, [file, record])
    } finally {
      await Deno.remove(record)
    }
    log(`applied seed ${rel}`)
    count++
  }
  return count
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
