// Target resolution: flags over variables over the local stack, and a remote target that would
// need a local default, mixes local and remote, carries the demo keys or names two projects is
// refused, naming what is wrong.
import assert from 'node:assert/strict'
import { projectRef, resolveTarget, UsageError } from './connection.ts'
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
    { 'anon-key': 'flag-anon', url: 'https://abcd.supabase.co/' },
  )
  assert.deepEqual(t, {
    dbUrl: REMOTE_DB,
    apiUrl: 'https://abcd.supabase.co',
    anonKey: 'flag-anon',
    serviceRoleKey: 'env-service',
    remote: true,
  })
})

Deno.test('an empty target flag is refused, not taken as the local stack', async () => {
  await assert.rejects(() => resolveTarget({}, { 'db-url': ' ' }), /--db-url is empty/)
  await assert.rejects(
    () => resolveTarget({}, { 'service-key': '' }, 'db'),
    /--service-key is empty/,
  )
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

/** A whole remote target whose settings a test overrides one at a time. */
const REMOTE = {
  SUPABASE_DB_URL: REMOTE_DB,
  SUPABASE_URL: REMOTE_URL,
  SUPABASE_ANON_KEY: 'project-anon',
  SUPABASE_SERVICE_ROLE_KEY: 'project-service',
}

Deno.test('a remote database with a local API URL, or the reverse, is refused', async () => {
  await assert.rejects(
    () => resolveTarget({ ...REMOTE, SUPABASE_URL: 'http://127.0.0.1:54321' }),
    /remote \(db\.abcd\.supabase\.co\) but --url \/ SUPABASE_URL points at this machine/,
  )
  await assert.rejects(
    () => resolveTarget({ ...REMOTE }, { 'db-url': 'postgresql://postgres:x@localhost:54322/db' }),
    /remote \(abcd\.supabase\.co\) but --db-url \/ SUPABASE_DB_URL points at this machine/,
  )
  // SQL-only commands do not use the URL, but a set one that disagrees is still a mix-up.
  await assert.rejects(
    () => resolveTarget({ SUPABASE_URL: 'http://localhost:54321' }, { 'db-url': REMOTE_DB }, 'db'),
    /--url \/ SUPABASE_URL points at this machine/,
  )
})

Deno.test("a remote target with the local stack's demo keys is refused, naming each", async () => {
  const keys = await localKeys()
  await assert.rejects(
    () => resolveTarget({ ...REMOTE, SUPABASE_ANON_KEY: keys.anonKey }),
    /--anon-key \/ SUPABASE_ANON_KEY is the local stack's demo key; use the project's keys/,
  )
  await assert.rejects(
    () => resolveTarget(REMOTE, { 'anon-key': keys.anonKey, 'service-key': keys.serviceRoleKey }),
    /--anon-key \/ SUPABASE_ANON_KEY, --service-key \/ SUPABASE_SERVICE_ROLE_KEY are the local/,
  )
  // SQL-only commands never send the keys, so stray demo keys there do not matter.
  const t = await resolveTarget({ SUPABASE_ANON_KEY: keys.anonKey }, { 'db-url': REMOTE_DB }, 'db')
  assert.equal(t.remote, true)
})

Deno.test('a database and an API URL of different projects are refused', async () => {
  await assert.rejects(
    () => resolveTarget({ ...REMOTE, SUPABASE_URL: 'https://efgh.supabase.co' }),
    /the database URL names project abcd but the API URL names project efgh/,
  )
  const pooler = 'postgresql://postgres.wxyz:pw@aws-0-eu-west-1.pooler.supabase.com:6543/postgres'
  await assert.rejects(
    () => resolveTarget({ ...REMOTE, SUPABASE_DB_URL: pooler }),
    /the database URL names project wxyz but the API URL names project abcd/,
  )
  const t = await resolveTarget({
    ...REMOTE,
    SUPABASE_DB_URL: pooler,
    SUPABASE_URL: 'https://wxyz.supabase.co',
  })
  assert.equal(t.dbUrl, pooler)
  // A custom domain names no project: nothing to compare, so it is accepted.
  assert.equal(
    (await resolveTarget({ ...REMOTE, SUPABASE_URL: 'https://api.example.org' })).remote,
    true,
  )
})

Deno.test('project refs are read from the shapes Supabase hands out, and only those', () => {
  assert.equal(projectRef(REMOTE_DB), 'abcd')
  assert.equal(projectRef(REMOTE_URL), 'abcd')
  assert.equal(
    projectRef('postgres://postgres.abcd:pw@aws-0-us-east-1.pooler.supabase.com:5432/postgres'),
    'abcd',
  )
  assert.equal(projectRef('postgres://postgres.abcd:pw@pooler.example.org:5432/postgres'), null)
  assert.equal(projectRef('https://api.example.org'), null)
  assert.equal(projectRef('not a url'), null)
})

Deno.test('the CLI exits 2 with the reason when smoke gets a partial remote target', async () => {
  assert.equal(await main(['smoke', '--db-url', REMOTE_DB], {}), 2)
  assert.equal(await main(['health', '--url', REMOTE_URL], { SUPABASE_DB_URL: REMOTE_DB }), 2)
})
