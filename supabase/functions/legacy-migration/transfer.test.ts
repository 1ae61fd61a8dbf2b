// The object side without Storage: bounded lanes that stop at the first failure, copies retried
// and recorded for cleanup, removals batched and never throwing.
import assert from 'node:assert/strict'
import type { PlannedAsset } from './plan.ts'
import { type MigrationStorage, StorageCallError } from './storage.ts'
import { copyAssets, forEachBounded, removeObjects, type TransferOptions } from './transfer.ts'

const options: TransferOptions = {
  concurrency: 3,
  retry: { attempts: 3, sleep: () => Promise.resolve() },
}

const asset = (n: number): PlannedAsset => ({
  activity_id: `act-${n}`,
  bucket: 'activity-assets',
  path: `u/act-${n}/f${n}.png`,
  kind: 'image',
  legacy_path: `u/f${n}.png`,
})

/** A storage whose copy and remove run `behave`; list is unused here. */
function storageWith(
  behave: { copy?: (to: string) => Promise<void>; remove?: (paths: string[]) => Promise<void> },
): MigrationStorage {
  return {
    list: () => Promise.resolve([]),
    copy: (_b, _from, _tb, to) => behave.copy?.(to) ?? Promise.resolve(),
    remove: (_b, paths) => behave.remove?.([...paths]) ?? Promise.resolve(),
  }
}

Deno.test('forEachBounded keeps at most `lanes` in flight and covers every item', async () => {
  let inFlight = 0
  let peak = 0
  const seen: number[] = []
  await forEachBounded([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
    peak = Math.max(peak, ++inFlight)
    await new Promise((r) => setTimeout(r, 2))
    seen.push(n)
    inFlight--
  })
  assert.equal(peak, 3)
  assert.deepEqual(seen.sort(), [1, 2, 3, 4, 5, 6, 7])
})

Deno.test('after a failure no item starts, those in flight finish, and the failure is thrown', async () => {
  const started: number[] = []
  const finished: number[] = []
  await assert.rejects(
    forEachBounded([1, 2, 3, 4, 5, 6], 2, async (n) => {
      started.push(n)
      if (n === 2) throw new Error('item 2 failed')
      await new Promise((r) => setTimeout(r, 5))
      finished.push(n)
    }),
    /item 2 failed/,
  )
  assert.deepEqual(started, [1, 2])
  assert.deepEqual(finished, [1], 'item 1 was in flight and was awaited')
})

Deno.test('copies are retried on transient errors and every destination is recorded', async () => {
  const tries = new Map<string, number>()
  const log = { attempted: [] as string[], copied: 0 }
  await copyAssets(
    storageWith({
      copy: (to) => {
        const n = (tries.get(to) ?? 0) + 1
        tries.set(to, n)
        return n === 1 && to.endsWith('f2.png')
          ? Promise.reject(new StorageCallError('copy', 'casfolio-legacy', 'busy', 503))
          : Promise.resolve()
      },
    }),
    [asset(1), asset(2), asset(3)],
    log,
    options,
  )
  assert.deepEqual(log.attempted.sort(), [asset(1).path, asset(2).path, asset(3).path])
  assert.equal(log.copied, 3)
  assert.equal(tries.get(asset(2).path), 2)
})

Deno.test('a retried copy whose destination exists counts as done; a first-try 409 does not', async () => {
  let tries = 0
  await copyAssets(
    storageWith({
      copy: () =>
        Promise.reject(
          ++tries === 1
            ? new StorageCallError('copy', 'b', 'timeout')
            : new StorageCallError('copy', 'b', 'The resource already exists', 409),
        ),
    }),
    [asset(1)],
    { attempted: [], copied: 0 },
    options,
  )
  assert.equal(tries, 2)
  await assert.rejects(
    copyAssets(
      storageWith({
        copy: () => Promise.reject(new StorageCallError('copy', 'b', 'exists', 409)),
      }),
      [asset(1)],
      { attempted: [], copied: 0 },
      options,
    ),
    /exists/,
  )
})

Deno.test('a copy refused for good (403) is not retried', async () => {
  let tries = 0
  await assert.rejects(
    copyAssets(
      storageWith({
        copy: () => {
          tries++
          return Promise.reject(new StorageCallError('copy', 'b', 'denied', 403))
        },
      }),
      [asset(1)],
      { attempted: [], copied: 0 },
      options,
    ),
    /denied/,
  )
  assert.equal(tries, 1)
})

Deno.test('removals are spread over the lanes in batches of at most 1000, once per path', async () => {
  const calls: number[] = []
  const paths = Array.from({ length: 2500 }, (_, i) => `u/${i}.png`)
  const ok = await removeObjects(
    storageWith({ remove: (batch) => (calls.push(batch.length), Promise.resolve()) }),
    'activity-assets',
    [...paths, ...paths.slice(0, 10)],
    options,
  )
  assert.deepEqual(ok, { failed: [] })
  assert.deepEqual(calls.sort((a, b) => b - a), [834, 834, 832], '3 lanes, 2500 paths')
  calls.length = 0
  await removeObjects(
    storageWith({ remove: (batch) => (calls.push(batch.length), Promise.resolve()) }),
    'activity-assets',
    Array.from({ length: 9000 }, (_, i) => `u/${i}.png`),
    { ...options, concurrency: 2 },
  )
  assert.deepEqual(calls, Array(9).fill(1000), 'never more than Storage takes per call')
  calls.length = 0
  await removeObjects(
    storageWith({ remove: (batch) => (calls.push(batch.length), Promise.resolve()) }),
    'activity-assets',
    paths.slice(0, 60),
    options,
  )
  assert.deepEqual(calls, [50, 10], 'small removals are not split below 50')

  const failed = await removeObjects(
    storageWith({
      remove: (batch) =>
        batch.includes('u/0.png')
          ? Promise.reject(new StorageCallError('remove', 'b', 'down', 500))
          : Promise.resolve(),
    }),
    'activity-assets',
    paths,
    options,
  )
  assert.equal(failed.failed.length, 834)
  assert.equal(failed.error, 'down')
})
