// Checks (and, as root on Debian/Ubuntu, installs) what the local stack needs: PostgreSQL
// server binaries, pg_cron, pgTAP and pg_prove. Anywhere else it stops with the exact command.
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
      what: 'pg_cron',
      aptPackage: `postgresql-${major}-cron`,
      present: () => isFile(`/usr/lib/postgresql/${major}/lib/pg_cron.so`),
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
    const pkgs = missing.map((m) => m.aptPackage)
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
