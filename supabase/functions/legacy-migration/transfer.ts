// The object side of a migration: copy every planned asset from the legacy bucket, and remove
// objects (the legacy ones after a commit, the copies after a dry run or a failure), each call
// retried with backoff and at most `concurrency` in flight.
import { ASSETS_BUCKET, LEGACY_BUCKET, type PlannedAsset } from './plan.ts'
import { type RetryOptions, withRetries } from './retry.ts'
import { type MigrationStorage, REMOVE_BATCH, StorageCallError } from './storage.ts'

export interface TransferOptions {
  concurrency: number
  /** Tries per call and their backoff; `retryable` is this module's. */
  retry: Omit<RetryOptions, 'retryable'>
}

const retryable = (err: unknown) => !(err instanceof StorageCallError) || err.retryable

/**
 * Runs `work` for each item with at most `lanes` at once. After the first failure no item is
 * started; the ones in flight are awaited (so whoever cleans up sees everything they did), then
 * that failure is thrown.
 */
export async function forEachBounded<T>(
  items: readonly T[],
  lanes: number,
  work: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0
  let failure: { error: unknown } | undefined
  const lane = async () => {
    while (failure === undefined && next < items.length) {
      const item = items[next++]
      try {
        await work(item)
      } catch (error) {
        failure ??= { error }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(lanes, items.length) }, lane))
  if (failure) throw failure.error
}

/** What copyAssets has done so far, for whoever undoes it. */
export interface CopyLog {
  /** Destinations of every copy begun, including one whose answer was lost. */
  attempted: string[]
  /** Copies Storage confirmed. */
  copied: number
}

/**
 * Copies each asset's legacy object to its new path, recording into `log` as it goes (a
 * cleanup removes every attempted destination). A copy that finds its destination taken on a
 * retry counts as done: the path holds a fresh activity id, so only the earlier try can have
 * put it there.
 */
export async function copyAssets(
  storage: MigrationStorage,
  assets: readonly PlannedAsset[],
  log: CopyLog,
  options: TransferOptions,
): Promise<void> {
  await forEachBounded(assets, options.concurrency, async (asset) => {
    log.attempted.push(asset.path)
    await withRetries(async (attempt) => {
      try {
        await storage.copy(LEGACY_BUCKET, asset.legacy_path, ASSETS_BUCKET, asset.path)
      } catch (err) {
        if (attempt > 1 && err instanceof StorageCallError && err.alreadyExists) return
        throw err
      }
    }, { ...options.retry, retryable })
    log.copied++
  })
}

// Smallest remove batch worth a call of its own when spreading removals over the lanes.
const MIN_REMOVE_BATCH = 50

/**
 * Removes `paths` from `bucket`, spread over the lanes in batches of at most REMOVE_BATCH.
 * Never throws: answers the paths it could not remove (each batch after its retries), for the
 * run's message.
 */
export async function removeObjects(
  storage: MigrationStorage,
  bucket: string,
  paths: readonly string[],
  options: TransferOptions,
): Promise<{ failed: string[]; error?: string }> {
  const unique = [...new Set(paths)]
  const size = Math.min(
    REMOVE_BATCH,
    Math.max(MIN_REMOVE_BATCH, Math.ceil(unique.length / options.concurrency)),
  )
  const batches: string[][] = []
  for (let i = 0; i < unique.length; i += size) batches.push(unique.slice(i, i + size))
  const failed: string[] = []
  let error: string | undefined
  await forEachBounded(batches, options.concurrency, async (batch) => {
    try {
      await withRetries(() => storage.remove(bucket, batch), { ...options.retry, retryable })
    } catch (err) {
      failed.push(...batch)
      error ??= err instanceof Error ? err.message : String(err)
    }
  })
  return error === undefined ? { failed } : { failed, error }
}
