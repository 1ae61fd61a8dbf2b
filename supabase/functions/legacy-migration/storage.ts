// Storage as the migration sees it: list a folder, copy an object (across buckets), remove
// objects. The real one is supabase-js's storage client carrying the caller's own JWT, so
// Storage's RLS policies bound every call exactly as they bound the user's app; tests wrap it
// to inject failures. instrumentStorage times every call into the usage metrics.
import { createClient } from '@supabase/supabase-js'
import type { UsageMetrics } from '../_shared/metrics.ts'
import type { Clock } from '../_shared/wiring.ts'

/** One Storage call that failed, with what Storage said. */
export class StorageCallError extends Error {
  override readonly name = 'StorageCallError'
  constructor(
    readonly op: string,
    readonly bucket: string,
    message: string,
    /** Storage's HTTP status (or the statusCode of its JSON error); undefined for network errors. */
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options)
  }

  /** Worth another try: the network failed, or Storage was busy (429) or broken (5xx). */
  get retryable(): boolean {
    return this.status === undefined || this.status === 429 || this.status >= 500
  }

  /** The destination of a copy exists already (ours, when an earlier try's answer was lost). */
  get alreadyExists(): boolean {
    return this.status === 409
  }
}

export interface MigrationStorage {
  /** Every object name (full path) directly in `folder` of `bucket`, all pages. */
  list(bucket: string, folder: string): Promise<string[]>
  /** Copies `fromPath` in `bucket` to `toPath` in `toBucket`; refuses to overwrite. */
  copy(bucket: string, fromPath: string, toBucket: string, toPath: string): Promise<void>
  /** Removes the objects (at most REMOVE_BATCH per call); a missing object is not an error. */
  remove(bucket: string, paths: readonly string[]): Promise<void>
}

/** Storage's limit on names per list page and per remove call. */
export const LIST_PAGE = 1000
export const REMOVE_BATCH = 1000

export interface SupabaseStorageOptions {
  /** SUPABASE_URL. */
  url: string
  /** SUPABASE_ANON_KEY: the apikey the gateway expects beside the user's token. */
  anonKey: string
  /** The caller's access token: every call runs as them. */
  accessToken: string
}

interface StorageErrorLike {
  message: string
  status?: number
  statusCode?: string
}

// Storage answers some errors with HTTP 400 and the real code in the body's statusCode
// ("409" for an existing object, "404" for a missing one), so the body's code wins.
function statusOf(error: StorageErrorLike): number | undefined {
  const fromBody = Number(error.statusCode)
  if (Number.isInteger(fromBody) && fromBody >= 100) return fromBody
  return error.status
}

function failed(op: string, bucket: string, error: StorageErrorLike): StorageCallError {
  return new StorageCallError(op, bucket, error.message, statusOf(error), { cause: error })
}

/** Storage through supabase-js, as the user whose token it carries. */
export function supabaseStorage(options: SupabaseStorageOptions): MigrationStorage {
  const client = createClient(options.url, options.anonKey, {
    global: { headers: { Authorization: `Bearer ${options.accessToken}` } },
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  })
  const storage = client.storage

  return {
    async list(bucket, folder) {
      const names: string[] = []
      for (let offset = 0;; offset += LIST_PAGE) {
        const { data, error } = await storage.from(bucket).list(folder, {
          limit: LIST_PAGE,
          offset,
          sortBy: { column: 'name', order: 'asc' },
        })
        if (error) throw failed('list', bucket, error)
        // Sub-folders come back as entries without an id; only objects count.
        for (const entry of data) if (entry.id !== null) names.push(`${folder}/${entry.name}`)
        if (data.length < LIST_PAGE) return names
      }
    },
    async copy(bucket, fromPath, toBucket, toPath) {
      const { error } = await storage.from(bucket).copy(fromPath, toPath, {
        destinationBucket: toBucket,
      })
      if (error) throw failed('copy', bucket, error)
    },
    async remove(bucket, paths) {
      if (paths.length > REMOVE_BATCH) {
        throw new RangeError(`remove takes at most ${REMOVE_BATCH} paths, got ${paths.length}`)
      }
      const { error } = await storage.from(bucket).remove([...paths])
      if (error) throw failed('remove', bucket, error)
    },
  }
}

/** Wraps a storage so each call's latency and outcome become a storage.op usage metric. */
export function instrumentStorage(
  storage: MigrationStorage,
  metrics: UsageMetrics,
  now: Clock,
  tags: { user_id: string; run_id: string },
): MigrationStorage {
  const timed = async <T>(op: string, bucket: string, work: () => Promise<T>): Promise<T> => {
    const started = now()
    try {
      const result = await work()
      metrics.storageOp({ op, bucket, ok: true, duration_ms: elapsed(started, now), ...tags })
      return result
    } catch (err) {
      metrics.storageOp({
        op,
        bucket,
        ok: false,
        duration_ms: elapsed(started, now),
        error: err instanceof Error ? err.message.slice(0, 200) : String(err).slice(0, 200),
        status: err instanceof StorageCallError ? err.status : undefined,
        ...tags,
      })
      throw err
    }
  }
  return {
    list: (bucket, folder) => timed('list', bucket, () => storage.list(bucket, folder)),
    copy: (bucket, from, toBucket, to) =>
      timed('copy', bucket, () => storage.copy(bucket, from, toBucket, to)),
    remove: (bucket, paths) => timed('remove', bucket, () => storage.remove(bucket, paths)),
  }
}

const elapsed = (started: number, now: Clock) => Math.round((now() - started) * 10) / 10
