// Two users on the running test stack: neither can migrate, read or list the other's legacy or
// migrated data, whether through the function, Storage (supabase-js with each user's own JWT)
// or the database as themselves.
import assert from 'node:assert/strict'
import { createClient } from '@supabase/supabase-js'
import { userTestJwt } from '../../../local/testing.ts'
import { withUser } from '../_shared/db.ts'
import { ASSETS_BUCKET, LEGACY_BUCKET } from './plan.ts'
import { appFor, env, migrate, withContext } from './test_context.ts'
import { addLegacyPortfolio, objectNames } from './testing.ts'

const SHAPE = { portfolios: 1, itemsPerPortfolio: 2, imageEvery: 1 } // 3 images each

async function storageAs(userId: string) {
  return createClient(env.apiUrl, env.anonKey, {
    global: { headers: { Authorization: `Bearer ${await userTestJwt(userId)}` } },
    auth: { persistSession: false, autoRefreshToken: false },
  }).storage
}

Deno.test("two users can neither migrate, read nor list each other's data", async () => {
  await withContext(async ({ sql, stack, user }) => {
    const alice = await user('alice')
    const bob = await user('bob')
    await addLegacyPortfolio(stack, alice, SHAPE)
    const bobs = await addLegacyPortfolio(stack, bob, SHAPE)
    const aliceStorage = await storageAs(alice)

    // Storage as alice: bob's legacy folder is invisible, and his objects cannot be read or copied.
    const listed = await aliceStorage.from(LEGACY_BUCKET).list(bob)
    assert.deepEqual(listed.data ?? [], [])
    assert.notEqual((await aliceStorage.from(LEGACY_BUCKET).download(bobs.paths[0])).error, null)
    assert.equal((await aliceStorage.from(LEGACY_BUCKET).exists(bobs.paths[0])).data, false)
    const stolen = await aliceStorage.from(LEGACY_BUCKET).copy(bobs.paths[0], `${alice}/bob.png`, {
      destinationBucket: ASSETS_BUCKET,
    })
    assert.notEqual(stolen.error, null, "alice cannot copy bob's object into her folder")

    // Alice's migration moves her data and nothing of bob's.
    const app = appFor(sql)
    const res = await migrate(app, alice)
    assert.equal(res.status, 200, JSON.stringify(res.body))
    assert.deepEqual([res.body.counts.portfolios, res.body.counts.items], [1, 2])
    assert.deepEqual(await objectNames(stack, LEGACY_BUCKET, bob), bobs.paths)
    const [bobRows] = await stack.admin<{ n: number }[]>`
      select (select count(*)::int from public.casfolio_items where user_id = ${bob}) as n`
    assert.equal(bobRows.n, 2)

    // A legacy row of alice's that points into bob's folder is refused, not followed.
    await stack.admin`
      insert into public.casfolio_portfolios (user_id, title, hero_image_path)
      values (${alice}, 'Borrowed', ${bobs.paths[0]})`
    const borrowed = await migrate(app, alice)
    assert.equal(borrowed.status, 422, JSON.stringify(borrowed.body))
    assert.match(borrowed.body.error.message, /hero_image_path must lie in the owner's folder/)
    assert.deepEqual(await objectNames(stack, LEGACY_BUCKET, bob), bobs.paths)
    await stack.admin`delete from public.casfolio_portfolios where user_id = ${alice}`

    // Bob migrates; alice can neither read nor list what he now has.
    assert.equal((await migrate(app, bob)).status, 200)
    const bobAssets = await objectNames(stack, ASSETS_BUCKET, bob)
    assert.equal(bobAssets.length, 3)
    assert.notEqual((await aliceStorage.from(ASSETS_BUCKET).download(bobAssets[0])).error, null)
    assert.deepEqual((await aliceStorage.from(ASSETS_BUCKET).list(bob)).data ?? [], [])
    const bobFolder = bobAssets[0].split('/').slice(0, 2).join('/')
    assert.deepEqual((await aliceStorage.from(ASSETS_BUCKET).list(bobFolder)).data ?? [], [])
    const removal = await aliceStorage.from(ASSETS_BUCKET).remove([bobAssets[0]])
    assert.deepEqual(removal.data ?? [], [], "alice's remove of bob's object removes nothing")
    assert.equal((await objectNames(stack, ASSETS_BUCKET, bob)).length, 3)

    // The database, as alice, shows only her activities and assets.
    const claims = { role: 'authenticated', sub: alice, aud: 'authenticated', exp: 0 }
    const seen = await withUser(sql, claims, (tx) =>
      tx<{ owner: string }[]>`
        select distinct user_id::text as owner from public.activities
        union select distinct user_id::text from public.activity_assets`)
    assert.deepEqual(seen.map((r) => r.owner), [alice])
  })
})
