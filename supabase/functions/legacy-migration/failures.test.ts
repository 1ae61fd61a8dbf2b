// legacy-migration when things go wrong, against the running test stack: Storage failing in the
// middle of the uploads, a legacy object missing at preflight, and two calls at once. Storage
// failures are injected by wrapping the real supabase-js storage (storageFor), so everything
// that does happen goes through the real Storage and database.
import assert from 'node:assert/strict'
import { userTestJwt } from '../../../local/testing.ts'
import { createClient } from '@supabase/supabase-js'
import { ASSETS_BUCKET, LEGACY_BUCKET } from './plan.ts'
import { type MigrationStorage, StorageCallError, supabaseStorage } from './storage.ts'
import { appFor, env, migrate, runsOf, withContext } from './test_context.ts'
import { addLegacyPortfolio, checksum, objectNames } from './testing.ts'

const SHAPE = { portfolios: 2, itemsPerPortfolio: 4, imageEvery: 1 } // 10 images

/** The real storage as the caller, with `copy` replaced by `copy(real, …args)`. */
function wrapCopy(
  copy: (
    real: MigrationStorage,
    ...args: Parameters<MigrationStorage['copy']>
  ) => Promise<void>,
) {
  return (accessToken: string): MigrationStorage => {
    const real = supabaseStorage({ url: env.apiUrl, anonKey: env.anonKey, accessToken })
    return { ...real, copy: (...args) => copy(real, ...args) }
  }
}

Deno.test('a Storage failure mid-uploads rolls back, removes the copies and leaves the legacy data intact', async () => {
  await withContext(async ({ sql, stack, objectRoot, user }) => {
    const alice = await user()
    const seeded = await addLegacyPortfolio(stack, alice, SHAPE)
    const before = await checksum(stack, objectRoot)
    // The sixth object to copy never copies: Storage answers 503 on each of its tries.
    const order: string[] = []
    let broken = ''
    let copied = 0
    let brokenTries = 0
    const app = appFor(sql, {
      config: { concurrency: 2, storageAttempts: 3 },
      storageFor: wrapCopy(async (real, bucket, from, toBucket, to) => {
        if (!order.includes(from)) order.push(from)
        if (order.indexOf(from) === 5) {
          broken = from
          brokenTries++
          throw new StorageCallError('copy', bucket, 'Service Unavailable', 503)
        }
        await real.copy(bucket, from, toBucket, to)
        copied++
      }),
    })

    const res = await migrate(app, alice)
    assert.equal(res.status, 502, JSON.stringify(res.body))
    assert.equal(res.body.error.code, 'storage_failed')
    assert.equal(res.body.error.details.status, 'failed')
    assert.equal(brokenTries, 3, 'the failing copy was tried exactly storageAttempts times')
    assert.ok(seeded.paths.includes(broken))
    assert.ok(copied >= 4, `copies had happened before the failure (${copied})`)

    assert.deepEqual(await checksum(stack, objectRoot), before, 'rows, objects and files as before')
    assert.deepEqual(await objectNames(stack, ASSETS_BUCKET, alice), [], 'every copy removed')
    assert.equal((await objectNames(stack, LEGACY_BUCKET, alice)).length, seeded.images)
    const [run] = await runsOf(stack, alice)
    assert.equal(run.status, 'failed')
    assert.match(
      run.message!,
      /^Storage copy in casfolio-legacy failed \(503\): Service Unavailable/,
    )
    assert.match(run.message!, new RegExp(`rolled back, ${copied} copied objects removed$`))
    assert.equal(res.body.error.message, run.message)

    // Once Storage recovers, the same data migrates.
    const retry = await migrate(appFor(sql), alice)
    assert.equal(retry.status, 200, JSON.stringify(retry.body))
    assert.equal(retry.body.counts.objects, seeded.images)
  })
})

Deno.test('a missing legacy object fails the preflight with 422 naming its row; nothing moves', async () => {
  await withContext(async ({ sql, stack, objectRoot, user }) => {
    const alice = await user()
    const seeded = await addLegacyPortfolio(stack, alice, SHAPE)
    const gone = seeded.paths[0]
    const service = createClient(env.apiUrl, env.serviceRoleKey, {
      auth: { persistSession: false, autoRefreshToken: false },
    })
    assert.equal((await service.storage.from(LEGACY_BUCKET).remove([gone])).error, null)
    const before = await checksum(stack, objectRoot)

    const res = await migrate(appFor(sql), alice)
    assert.equal(res.status, 422, JSON.stringify(res.body))
    assert.equal(res.body.error.code, 'preflight_failed')
    assert.match(res.body.error.message, /^Preflight found 1 problem: .* Nothing was moved\.$/)
    const [problem] = res.body.error.details.problems
    assert.equal(problem.message, `names ${gone}, which does not exist in casfolio-legacy`)
    const [owner] = await stack.admin<{ id: string }[]>`
      select id from public.casfolio_portfolios where hero_image_path = ${gone}
      union all
      select id from public.casfolio_items where image_path = ${gone}`
    assert.equal(problem.id, owner.id, 'the problem names the row that refers to the object')

    assert.deepEqual(await checksum(stack, objectRoot), before)
    const [run] = await runsOf(stack, alice)
    assert.equal(run.status, 'failed')
    assert.match(run.message!, /^Preflight found 1 problem/)
  })
})

Deno.test('two concurrent calls for one user: exactly one is refused with 409 by the database', async () => {
  await withContext(async ({ sql, stack, user }) => {
    const alice = await user()
    await addLegacyPortfolio(stack, alice, SHAPE)
    // Slow copies keep the first run busy while the second one starts.
    const app = appFor(sql, {
      storageFor: wrapCopy(async (real, ...args) => {
        await new Promise((resolve) => setTimeout(resolve, 40))
        await real.copy(...args)
      }),
    })
    const token = await userTestJwt(alice)
    const call = async () => {
      const res = await app.request('/legacy-migration', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      })
      return { status: res.status, body: await res.json() }
    }
    const results = await Promise.all([call(), call()])
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 409], JSON.stringify(results))
    const refused = results.find((r) => r.status === 409)!
    assert.equal(refused.body.error.code, 'migration_running')
    assert.match(refused.body.error.message, /already running/)
    const runs = await runsOf(stack, alice)
    assert.deepEqual(runs.map((r) => r.status), ['completed'], 'the refused call logged no run')
  })
})
