// Target resolution: flags over variables over the local stack, and a remote target that would
// need a local default is refused, naming every missing flag and variable.
import assert from 'node:assert/strict'
import { resolveTarget, UsageError } from './connection.ts'
import { main } from './cli.ts'
import { localKeys } from '../local/keys.ts'

const REMOTE_DB = 'postgresql://postgres:pw@db.abcd.supabase.co:5432/postgres'
const REMOTE_URL = 'https://abcd.supabase.co'

Deno.test('with nothing set the target is the local stack with the well-known keys', async () => {
  const keys = await localKeys()
  const t = await resolveTarget({})
  assert.match(t.dbUrl, /^postgresql:\/\/postgres:postgres@127\.0\.0\.1:\d+\/postgres$/)
  assert.match(t.apiUrl, /^http:\/\/127\.0\.0\.1:\d+$/)
  assert.equal(t.anonKey, keys.anonKey)
  assert.equal(t.serviceRoleKey, keys.serviceRoleKey)
  assert.equal(t.remote, false)
})

Deno.test('flags win over variables, and a trailing slash is dropped from the URL', async () => {
  const t = await resolveTarget(
    {
      SUPABASE_DB_URL: REMOTE_DB,
      SUPABASE_URL: REMOTE_URL,
      SUPABASE_ANON_KEY: 'env-anon',
      SUPABASE_SERVICE_ROLE_KEY: 'env-service',
    },
    { 'anon-key': 'flag-anon', url: 'https://efgh.supabase.co/' },
  )
  assert.deepEqual(t, {
    dbUrl: REMOTE_DB,
    apiUrl: 'https://efgh.supabase.co',
    anonKey: 'flag-anon',
    serviceRoleKey: 'env-service',
    remote: true,
  })
})

Deno.test('a remote database with local keys is refused, naming each missing setting', async () => {
  await assert.rejects(
    () => resolveTarget({ SUPABASE_DB_URL: REMOTE_DB }, { 'anon-key': 'k' }),
    (err: Error) => {
      assert.ok(err instanceof UsageError)
      assert.match(err.message, /remote \(db\.abcd\.supabase\.co\)/)
      assert.match(err.message, /--url \/ SUPABASE_URL, --service-key \/ SUPABASE_SERVICE_ROLE_KEY/)
      assert.doesNotMatch(err.message, /anon-key/)
      return true
    },
  )
})

Deno.test('a remote API URL without a database URL is refused even for SQL commands', async () => {
  await assert.rejects(
    () => resolveTarget({ SUPABASE_URL: REMOTE_URL }, {}, 'db'),
    /remote \(abcd\.supabase\.co\) but --db-url \/ SUPABASE_DB_URL is not set/,
  )
})

Deno.test('a remote database URL alone is a whole target for SQL-only commands', async () => {
  const t = await resolveTarget({}, { 'db-url': REMOTE_DB }, 'db')
  assert.equal(t.dbUrl, REMOTE_DB)
  assert.equal(t.remote, true)
})

Deno.test('the CLI exits 2 with the reason when smoke gets a partial remote target', async () => {
  assert.equal(await main(['smoke', '--db-url', REMOTE_DB], {}), 2)
  assert.equal(await main(['health', '--url', REMOTE_URL], { SUPABASE_DB_URL: REMOTE_DB }), 2)
})
