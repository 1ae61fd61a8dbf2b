// Reads supabase/config.toml: the same file the Supabase CLI reads, so ports, seeds and
// per-function verify_jwt settings have one source of truth locally and when deployed.
import { parse } from 'smol-toml'
import { FUNCTIONS_DIR, SUPABASE_DIR } from './paths.ts'
import { pathExists } from './files.ts'

export interface FunctionConfig {
  name: string
  verifyJwt: boolean
  /** Absolute path of the function's entrypoint (index.ts unless config.toml says otherwise). */
  entrypoint: string
}

export interface ProjectConfig {
  apiPort: number
  dbPort: number
  majorVersion: number
  seedPatterns: string[]
  functions: Map<string, FunctionConfig>
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
