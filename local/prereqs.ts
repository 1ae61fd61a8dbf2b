// Checks (and, as root on Debian/Ubuntu, installs) what the local stack needs: PostgreSQL
// server binaries with pg_stat_statements, pg_cron, plpgsql_check (for `supabase db lint`),
// pgTAP and pg_prove. Anywhere else it stops with the exact command.
import { isRoot, mustRun, run, which } from './proc.ts'
import { isFile } from './files.ts'
import { pgBinDir } from './paths.ts'

export interface Toolchain {
  binDir: string
  pkgLibDir: string
  shareDir: string
  pgProve: string
}

interface Requirement {
  what: string
  aptPackage: string
  present: () => Promise<boolean>
}

function requirements(major: number): Requirement[] {
  const bin = pgBinDir(major)
  return [
    {
      what: `PostgreSQL ${major} server`,
      aptPackage: `postgresql-${major}`,
      present: () => isFile(`${bin}/postgres`),
    },
    {
      what: 'psql',
      aptPackage: `postgresql-client-${major}`,
      present: () => isFile(`${bin}/psql`),
    },
    {
      // Shipped with the server package (Debian folded contrib into it), so a missing library
      // means a partial install that reinstalling the server package repairs.
      what: 'pg_stat_statements',
      aptPackage: `postgresql-${major}`,
      present: () => isFile(`/usr/lib/postgresql/${major}/lib/pg_stat_statements.so`),
    },
    {
      what: 'pg_cron',
      aptPackage: `postgresql-${major}-cron`,
      present: () => isFile(`/usr/lib/postgresql/${major}/lib/pg_cron.so`),
    },
    {
      what: 'plpgsql_check',
      aptPackage: `postgresql-${major}-plpgsql-check`,
      present: () => isFile(`/usr/share/postgresql/${major}/extension/plpgsql_check.control`),
    },
    {
      what: 'pgTAP',
      aptPackage: `postgresql-${major}-pgtap`,
      present: () => isFile(`/usr/share/postgresql/${major}/extension/pgtap.control`),
    },
    {
      what: 'pg_prove',
      aptPackage: 'libtap-parser-sourcehandler-pgtap-perl',
      present: async () => (await which('pg_prove')) !== null,
    },
  ]
}

export async function ensurePrerequisites(
  major: number,
  log: (line: string) => void,
): Promise<Toolchain> {
  const missing: Requirement[] = []
  for (const req of requirements(major)) {
    if (!(await req.present())) missing.push(req)
  }
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((m) => m.aptPackage))]
    const command = `sudo apt-get update && sudo apt-get install -y ${pkgs.join(' ')}`
    const canInstall = isRoot() && (await which('apt-get')) !== null
    if (!canInstall) {
      throw new Error(
        `missing ${missing.map((m) => m.what).join(', ')}. Install with:\n  ${command}`,
      )
    }
    log(`installing ${pkgs.join(', ')} with apt-get`)
    const env = { DEBIAN_FRONTEND: 'noninteractive' }
    await mustRun(['apt-get', 'update', '-qq'], { env })
    await mustRun(['apt-get', 'install', '-y', '-qq', ...pkgs], { env })
    for (const req of missing) {
      if (!(await req.present())) throw new Error(`${req.what} still missing after apt-get`)
    }
  }
  const binDir = pgBinDir(major)
  const pgConfig = await run([`${binDir}/pg_config`, '--pkglibdir'])
  return {
    binDir,
    pkgLibDir: pgConfig.code === 0 ? pgConfig.stdout.trim() : `/usr/lib/postgresql/${major}/lib`,
    shareDir: `/usr/share/postgresql/${major}`,
    pgProve: (await which('pg_prove'))!,
  }
}
