// Wires the local Storage into the stack: the Storage server connects to the project's database
// as its own role, supabase_storage_admin, keeps files on disk (here in the stack's folder,
// `<stack>/storage/<bucket>/<name>`) and honours [storage] from config.toml. The stack owns the
// connection (it opens on the first query and closes when the stack stops).
import type postgres from 'postgres'
import { Disk } from './disk.ts'
import { createStorageHandler } from './handler.ts'
import type { StorageSettings } from './settings.ts'

/** The role Supabase Storage connects as (created by local/bootstrap.sql). */
export const STORAGE_DB_ROLE = 'supabase_storage_admin'

/** Where a stack keeps object files, given the stack's own folder. */
export const storageDirOf = (stackDir: string) => `${stackDir}/storage`

/** Object files under `root`; scratch files in a sibling folder on the same filesystem. */
const diskAt = (root: string) => new Disk(root, `${root}.scratch`)

/**
 * The gateway's /storage/v1 handler; none with [storage] enabled = false, as `supabase start`
 * then runs no Storage. `connect` opens a pool as a role on the stack's database.
 */
export function localStorageHandler(
  settings: StorageSettings,
  deps: {
    connect: (role: string, max: number) => postgres.Sql
    jwtSecret: string
    stackDir: string
  },
) {
  if (!settings.enabled) return undefined
  return createStorageHandler({
    sql: deps.connect(STORAGE_DB_ROLE, 8),
    jwtSecret: deps.jwtSecret,
    disk: diskAt(storageDirOf(deps.stackDir)),
    fileSizeLimit: settings.fileSizeLimit,
  })
}
