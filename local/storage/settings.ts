// config.toml's `[storage]` and `[storage.buckets.<name>]`, read as the Supabase CLI reads them:
// sizes such as "50MiB" (binary units, as the CLI's parser), objects_path relative to supabase/.
import { SUPABASE_DIR } from '../paths.ts'

/** One `[storage.buckets.<name>]` block: a bucket `supabase seed buckets` creates and fills. */
export interface BucketSeed {
  name: string
  /** `public`; unset creates a private bucket and leaves an existing one's setting alone. */
  public?: boolean
  /** `file_size_limit` in bytes; unset means no limit of the bucket's own. */
  fileSizeLimit?: number
  allowedMimeTypes?: string[]
  /** `objects_path` as an absolute path: every file under it is uploaded, named by its path. */
  objectsPath?: string
}

export interface StorageSettings {
  /** `[storage] enabled`: off → nothing is served at /storage/v1, as `supabase start` skips it. */
  enabled: boolean
  /** `[storage] file_size_limit`: the largest upload any bucket accepts. Default 50MiB. */
  fileSizeLimit: number
  buckets: BucketSeed[]
}

const MIB = 1024 * 1024
export const DEFAULT_FILE_SIZE_LIMIT = 50 * MIB

type Table = Record<string, unknown>

const UNITS: Record<string, number> = { '': 1, k: 1024, m: MIB, g: 1024 * MIB, t: 1024 ** 2 * MIB }

/** "50MiB", "5MB", "512kB", "1024" or a number → bytes; null when it is none of these. */
export function parseSize(value: unknown): number | null {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : null
  if (typeof value !== 'string') return null
  const m = /^(\d+(?:\.\d+)?) ?([kmgt])?i?b?$/i.exec(value.trim())
  return m ? Math.floor(Number(m[1]) * UNITS[(m[2] ?? '').toLowerCase()]) : null
}

function size(t: Table, section: string, key: string): number | undefined {
  if (t[key] === undefined) return undefined
  const bytes = parseSize(t[key])
  if (bytes === null) {
    throw new Error(`config.toml: [${section}] ${key} must be a size such as "50MiB"`)
  }
  return bytes
}

function table(value: unknown): Table {
  return value !== null && typeof value === 'object' ? value as Table : {}
}

/** Reads `[storage]`; a value of the wrong type throws naming its section and key. */
export function parseStorageSettings(storage: Table): StorageSettings {
  if (storage.enabled !== undefined && typeof storage.enabled !== 'boolean') {
    throw new Error('config.toml: [storage] enabled must be true or false')
  }
  const buckets = Object.entries(table(storage.buckets)).map(([name, raw]) => {
    const b = table(raw)
    const section = `storage.buckets.${name}`
    if (b.public !== undefined && typeof b.public !== 'boolean') {
      throw new Error(`config.toml: [${section}] public must be true or false`)
    }
    const mimes = b.allowed_mime_types
    if (
      mimes !== undefined && !(Array.isArray(mimes) && mimes.every((m) => typeof m === 'string'))
    ) {
      throw new Error(`config.toml: [${section}] allowed_mime_types must be a list of strings`)
    }
    if (b.objects_path !== undefined && typeof b.objects_path !== 'string') {
      throw new Error(`config.toml: [${section}] objects_path must be a path`)
    }
    const path = b.objects_path as string | undefined
    return {
      name,
      public: b.public as boolean | undefined,
      fileSizeLimit: size(b, section, 'file_size_limit') || undefined,
      allowedMimeTypes: mimes as string[] | undefined,
      objectsPath: path === undefined || path === ''
        ? undefined
        : path.startsWith('/')
        ? path
        : `${SUPABASE_DIR}/${path.replace(/^\.\//, '')}`,
    }
  })
  return {
    enabled: storage.enabled !== false,
    fileSizeLimit: size(storage, 'storage', 'file_size_limit') ?? DEFAULT_FILE_SIZE_LIMIT,
    buckets,
  }
}
