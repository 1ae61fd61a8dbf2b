// legacy-migration against the running test stack (real Postgres, real Storage through the
// gateway, supabase-js as the caller): the master switch, the dry run that changes nothing,
// the real run that moves everything, the rerun that moves nothing, and the usage metrics.
import assert from 'node:assert/strict'
import { createClient } from '@supabase/supabase-js'
import { userTestJwt } from '../../../local/testing.ts'
import { createUsageMetrics } from '../_shared/metrics.ts'
import { MESSAGES } from './migrate.ts'
import { ASSETS_BUCKET, LEGACY_BUCKET } from './plan.ts'
import { appFor, env, type Json, migrate, runsOf, withContext } from './test_context.ts'
import { addLegacyPortfolio, checksum, objectNames, SAMPLE_PNG } from './testing.ts'

const SHAPE = { portfolios: 2, itemsPerPortfolio: 3, imageEvery: 2 } // 2 heroes + 2 item images

/** supabase-js as the user (their JWT), as their app would call Storage. */
async function storageAs(userId: string) {
  return createClient(env.apiUrl, env.anonKey, {
    global: { headers: { Authorization: `Bearer ${await userTestJwt(userId)}` } },
    auth: { persistSession: false, autoRefreshToken: false },
  }).storage
}

/** A run's counts; a run copies as many objects as it writes assets. */
const counts = (portfolios: number, items: number, activities: number, assets: number) => ({
  portfolios,
  items,
  activities,
  assets,
  objects: assets,
})

function capturedMetrics() {
  const lines: string[] = []
  const metrics = createUsageMetrics({
    functionName: 'legacy-migration',
    env: { ENABLE_USAGE_METRICS: true },
    log: (line) => lines.push(line),
  })
  const events = () => lines.map((l) => JSON.parse(l) as { event: string; props: Json })
  return { metrics, events }
}

Deno.test('with ENABLE_LEGACY_MIGRATION off the endpoint answers 403 saying so and records nothing', async () => {
  await withContext(async ({ sql, stack, user }) => {
    const alice = await user()
    await addLegacyPortfolio(stack, alice, SHAPE)
    const res = await migrate(appFor(sql, { env: { ENABLE_LEGACY_MIGRATION: false } }), alice)
    assert.equal(res.status, 403)
    assert.equal(res.body.error.code, 'migration_disabled')
    assert.match(res.body.error.message, /disabled: ENABLE_LEGACY_MIGRATION is off/)
    assert.equal((await runsOf(stack, alice)).length, 0)
    assert.equal((await objectNames(stack, LEGACY_BUCKET, alice)).length, 4)
  })
})

Deno.test('through the gateway the deployed function is off until the flag is set, and needs a user', async () => {
  await withContext(async ({ user }) => {
    const alice = await user()
    const call = async (token: string | null) => {
      const res = await fetch(`${env.apiUrl}/functions/v1/legacy-migration`, {
        method: 'POST',
        headers: {
          apikey: env.anonKey,
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      })
      return { status: res.status, body: await res.json() }
    }
    const off = await call(await userTestJwt(alice))
    assert.equal(off.status, 403, JSON.stringify(off.body))
    assert.equal(off.body.error.code, 'migration_disabled')
    // The anon key verifies, but it is not a signed-in user.
    const anon = await call(env.anonKey)
    assert.equal(anon.status, 403)
    assert.match(anon.body.error.message, /signed-in user/)
    assert.equal((await call(null)).status, 401)
  })
})

Deno.test('a dry run does the whole workload, then leaves every table, row and file as it was', async () => {
  await withContext(async ({ sql, stack, objectRoot, user }) => {
    const alice = await user()
    const seeded = await addLegacyPortfolio(stack, alice, SHAPE)
    const { metrics, events } = capturedMetrics()
    const before = await checksum(stack, objectRoot)

    const dry = await migrate(
      appFor(sql, { env: { LEGACY_MIGRATION_DRY_RUN: true }, metrics }),
      alice,
    )
    assert.equal(dry.status, 200, JSON.stringify(dry.body))
    assert.equal(dry.body.dryRun, true)
    assert.equal(dry.body.status, 'failed')
    assert.equal(dry.body.message, MESSAGES.dryRunComplete)
    assert.deepEqual(dry.body.counts, counts(2, 6, 8, seeded.images))
    assert.deepEqual(Object.keys(dry.body.phase_ms), ['preflight', 'uploads', 'write', 'purge'])

    assert.deepEqual(await checksum(stack, objectRoot), before, 'nothing changed, on disk either')
    const [run] = await runsOf(stack, alice)
    assert.equal(run.status, 'failed')
    assert.equal(run.message, 'Dry run complete')
    assert.equal(run.dry_run, true)
    assert.deepEqual(run.counts, dry.body.counts)

    // The workload really ran: every object was copied, then removed again.
    const ops = events().filter((e) => e.event === 'storage.op')
    assert.equal(ops.filter((e) => e.props.op === 'copy' && e.props.ok).length, seeded.images)
    assert.ok(ops.some((e) => e.props.op === 'remove' && e.props.bucket === ASSETS_BUCKET))
    assert.ok(!ops.some((e) => e.props.op === 'remove' && e.props.bucket === LEGACY_BUCKET))
    const runMetric = events().find((e) => e.event === 'migration.run')
    assert.equal(runMetric?.props.outcome, 'dry_run_complete')
    assert.equal(runMetric?.props.dry_run, true)
    assert.equal(runMetric?.props.user_id, alice)

    const real = await migrate(appFor(sql), alice)
    assert.equal(real.status, 200, JSON.stringify(real.body))
    assert.equal(real.body.status, 'completed')
    assert.equal(real.body.dryRun, false)
    assert.deepEqual(real.body.counts, dry.body.counts, 'the real run moves what the dry run did')
  })
})

Deno.test('the portfolio sample seed passes a dry run for each of its users, objects included', async () => {
  // The seed's rows name files that config.toml's [storage.buckets.casfolio-legacy] uploaded
  // (bucket seeding): a preflight that finds every object is the proof they agree.
  const SEEDED: Record<string, number[]> = {
    'ca5f0000-0000-4000-8000-000000000001': [2, 5, 7, 6], // ana
    'ca5f0000-0000-4000-8000-000000000002': [1, 4, 5, 3], // ben
    'ca5f0000-0000-4000-8000-000000000003': [1, 2, 3, 3], // cleo
  }
  await withContext(async ({ sql, stack, objectRoot }) => {
    const app = appFor(sql, { env: { LEGACY_MIGRATION_DRY_RUN: true } })
    const before = await checksum(stack, objectRoot)
    try {
      for (const [userId, [portfolios, items, activities, assets]] of Object.entries(SEEDED)) {
        const res = await migrate(app, userId)
        assert.equal(res.status, 200, JSON.stringify(res.body))
        assert.equal(res.body.message, MESSAGES.dryRunComplete)
        assert.deepEqual(res.body.counts, counts(portfolios, items, activities, assets))
      }
      assert.deepEqual(await checksum(stack, objectRoot), before)
    } finally {
      await stack.admin`delete from public.user_migrations where user_id in ${
        stack.admin(Object.keys(SEEDED))
      }`
    }
  })
})

Deno.test('a real run moves every row and image; only the owner can read the new objects', async () => {
  await withContext(async ({ sql, stack, user }) => {
    const alice = await user('alice')
    const bob = await user('bob')
    const seeded = await addLegacyPortfolio(stack, alice, SHAPE)
    const { metrics, events } = capturedMetrics()

    const res = await migrate(appFor(sql, { metrics }), alice)
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.equal(res.body.status, 'completed')
    assert.equal(res.body.message, MESSAGES.completed)
    assert.deepEqual(res.body.counts, counts(2, 6, 8, 4))

    const [legacy] = await stack.admin<{ portfolios: number; items: number }[]>`
      select (select count(*)::int from public.casfolio_portfolios where user_id = ${alice})
               as portfolios,
             (select count(*)::int from public.casfolio_items where user_id = ${alice}) as items`
    assert.deepEqual(legacy, { portfolios: 0, items: 0 }, 'the legacy rows are gone')
    assert.deepEqual(await objectNames(stack, LEGACY_BUCKET, alice), [], 'legacy objects gone')

    const activities = await stack.admin<{ id: string; kind: string; legacy_id: string }[]>`
      select id, kind, legacy_id from public.activities where user_id = ${alice}`
    assert.equal(activities.filter((a) => a.kind === 'portfolio').length, 2)
    assert.equal(activities.filter((a) => a.kind === 'portfolio_item').length, 6)
    const assets = await stack.admin<{ path: string; legacy_path: string; kind: string }[]>`
      select path, legacy_path, kind from public.activity_assets where user_id = ${alice}
       order by path`
    assert.deepEqual(assets.map((a) => a.legacy_path).sort(), seeded.paths)
    assert.deepEqual(assets.filter((a) => a.kind === 'hero').length, 2)
    for (const asset of assets) {
      const [owner, activityId, file] = asset.path.split('/')
      assert.equal(owner, alice)
      assert.ok(activities.some((a) => a.id === activityId), 'under its activity id')
      assert.equal(file, asset.legacy_path.split('/').at(-1))
    }
    assert.deepEqual(
      await objectNames(stack, ASSETS_BUCKET, alice),
      assets.map((a) => a.path),
      'every asset row has its object and no object lacks a row',
    )

    const mine = await storageAs(alice)
    const download = await mine.from(ASSETS_BUCKET).download(assets[0].path)
    assert.equal(download.error, null)
    assert.deepEqual(new Uint8Array(await download.data!.arrayBuffer()), SAMPLE_PNG)
    const theirs = await storageAs(bob)
    const denied = await theirs.from(ASSETS_BUCKET).download(assets[0].path)
    assert.notEqual(denied.error, null, 'another user cannot read it')
    const listed = await theirs.from(ASSETS_BUCKET).list(alice)
    assert.deepEqual(listed.data ?? [], [], "nor list the owner's folder")

    const [run] = await runsOf(stack, alice)
    assert.equal(run.status, 'completed')
    assert.deepEqual(run.counts, res.body.counts)
    assert.deepEqual(Object.keys(run.phase_ms).sort(), ['preflight', 'purge', 'uploads', 'write'])

    const phases = events().filter((e) => e.event === 'migration.phase')
    assert.deepEqual(phases.map((e) => [e.props.phase, e.props.status]), [
      ['preflight', 'ok'],
      ['uploads', 'ok'],
      ['write', 'ok'],
      ['purge', 'ok'],
    ])
    const runMetric = events().find((e) => e.event === 'migration.run')
    assert.deepEqual(
      [runMetric?.props.status, runMetric?.props.outcome, runMetric?.props.dry_run],
      ['completed', 'completed', false],
    )
  })
})

Deno.test('a rerun after a completed run moves nothing and says so', async () => {
  await withContext(async ({ sql, stack, objectRoot, user }) => {
    const alice = await user()
    await addLegacyPortfolio(stack, alice, SHAPE)
    const app = appFor(sql)
    assert.equal((await migrate(app, alice)).status, 200)
    const before = await checksum(stack, objectRoot)

    const rerun = await migrate(app, alice)
    assert.equal(rerun.status, 200, JSON.stringify(rerun.body))
    assert.equal(rerun.body.status, 'completed')
    assert.equal(rerun.body.message, MESSAGES.alreadyMigrated)
    assert.deepEqual(rerun.body.counts, counts(0, 0, 0, 0))
    assert.deepEqual(await checksum(stack, objectRoot), before)
    const runs = await runsOf(stack, alice)
    assert.deepEqual(runs.map((r) => [r.status, r.message]), [
      ['completed', MESSAGES.completed],
      ['completed', MESSAGES.alreadyMigrated],
    ])

    // A user who never had legacy data is told that instead.
    const newcomer = await user()
    const none = await migrate(app, newcomer)
    assert.equal(none.status, 200)
    assert.equal(none.body.message, MESSAGES.nothingToMigrate)
  })
})
