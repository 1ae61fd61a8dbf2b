// The local Auth through the gateway, driven by the real supabase-js client: what a Supabase
// app's code does with email + password must behave here as it does against GoTrue.
import assert from 'node:assert/strict'
import { createClient, type SupabaseClient } from '@supabase/supabase-js'
import { decodeJwt } from 'jose'
import { DEFAULT_AUTH_SETTINGS } from '../config.ts'
import { adminSql, testStackEnv } from '../testing.ts'
import { createAuthHandler } from './handler.ts'
import { connectAuthDb } from './local.ts'

const env = testStackEnv()
const PASSWORD = 'TestPass123!'

function client(key = env.anonKey, url = env.apiUrl): SupabaseClient {
  return createClient(url, key, { auth: { persistSession: false, autoRefreshToken: false } })
}

const uniqueEmail = (label: string) => `${label}-${crypto.randomUUID().slice(0, 8)}@example.test`

/** A raw call to the gateway's Auth, as curl makes it (no API version header). */
function authFetch(path: string, init: RequestInit & { key?: string | null } = {}) {
  const headers = new Headers(init.headers)
  if (init.key !== null) headers.set('apikey', init.key ?? env.anonKey)
  if (!headers.has('content-type')) headers.set('content-type', 'application/json')
  return fetch(`${env.apiUrl}/auth/v1${path}`, { ...init, headers })
}

Deno.test('a signed-up user signs in, calls RPCs and a function with the session, refreshes, updates metadata and signs out', async () => {
  const sql = adminSql()
  const supabase = client()
  try {
    const email = uniqueEmail('journey')
    const signUp = await supabase.auth.signUp({ email, password: PASSWORD })
    assert.equal(signUp.error, null)
    assert.ok(signUp.data.session, 'confirmations are off in config.toml: signup signs in')
    const userId = signUp.data.user!.id
    assert.equal(signUp.data.user!.email, email)
    assert.ok(signUp.data.user!.email_confirmed_at)

    const claims = decodeJwt(signUp.data.session!.access_token)
    assert.equal(claims.sub, userId)
    assert.equal(claims.role, 'authenticated')
    assert.equal(claims.aud, 'authenticated')
    assert.equal(claims.email, email)
    assert.equal(claims.aal, 'aal1')
    assert.equal(claims.is_anonymous, false)
    assert.deepEqual(claims.app_metadata, { provider: 'email', providers: ['email'] })
    assert.equal(claims.exp! - claims.iat!, 3600)
    assert.equal(typeof claims.session_id, 'string')

    const [row] = await sql`
      select u.encrypted_password like '$2%' as bcrypt, u.email_confirmed_at is not null as confirmed,
             u.last_sign_in_at as signed_in,
             (select count(*)::int from auth.identities i where i.user_id = u.id) as identities
        from auth.users u where u.id = ${userId}`
    assert.equal(row.bcrypt, true, 'the password is stored as a bcrypt hash')
    assert.equal(row.confirmed, true)
    assert.equal(row.identities, 1, 'one email identity')
    assert.ok(row.signed_in instanceof Date, 'signing up signed the user in')
    // The migrations' signup trigger runs under Auth's own role, which has no rights on public.
    const [{ jobs }] = await sql`
      select count(*)::int as jobs from public.events_queue
       where topic = 'discovery.user-signup' and payload ->> 'user_id' = ${userId}`
    assert.equal(jobs, 1, 'the signup queued discovery for the new user')

    const signIn = await supabase.auth.signInWithPassword({ email, password: PASSWORD })
    assert.equal(signIn.error, null)
    const session = signIn.data.session!
    assert.notEqual(session.refresh_token, signUp.data.session!.refresh_token)
    const [{ last_sign_in_at }] = await sql`
      select last_sign_in_at from auth.users where id = ${userId}`
    assert.ok(last_sign_in_at > row.signed_in, 'each sign-in moves last_sign_in_at')

    const health = await supabase.rpc('health_check')
    assert.equal(health.error, null)
    assert.equal(health.data.database.status, 'ok')
    // anon may not execute these: a 200 / P0002 proves the RPC ran as the signed-in user.
    const suggestions = await supabase.rpc('marketplace_suggestions_for_user', {
      p_user_id: userId,
    })
    assert.equal(suggestions.error, null)
    assert.ok(Array.isArray(suggestions.data))
    const reward = await supabase.rpc('record_learning_reward', {
      p_decision_id: crypto.randomUUID(),
      p_candidate_id: 'nothing-ranked',
      p_reward: 1,
    })
    assert.equal(reward.status, 404)
    assert.equal(reward.error?.code, 'P0002')
    const anonReward = await client().rpc('marketplace_suggestions_for_user', { p_user_id: userId })
    assert.equal(anonReward.error?.code, 'PGRST202')

    const ranked = await supabase.functions.invoke('policy-ranker/rank', {
      body: { surface: 'feed' },
    })
    assert.equal(ranked.error, null)
    assert.match(ranked.data.decision_id, /^[0-9a-f-]{36}$/)
    const anonRanked = await client().functions.invoke('policy-ranker/rank', {
      body: { surface: 'feed' },
    })
    assert.ok(anonRanked.error, 'the function refuses the anon key')

    const refreshed = await supabase.auth.refreshSession()
    assert.equal(refreshed.error, null)
    const next = refreshed.data.session!
    assert.notEqual(next.refresh_token, session.refresh_token)
    assert.equal(
      decodeJwt(next.access_token).session_id,
      decodeJwt(session.access_token).session_id,
    )
    const tokens = await sql<{ token: string; revoked: boolean; parent: string | null }[]>`
      select token, revoked, parent from auth.refresh_tokens
       where session_id = ${String(decodeJwt(next.access_token).session_id)} order by id`
    assert.deepEqual([...tokens], [
      { token: session.refresh_token, revoked: true, parent: null },
      { token: next.refresh_token, revoked: false, parent: session.refresh_token },
    ])

    const updated = await supabase.auth.updateUser({ data: { display_name: 'Journey' } })
    assert.equal(updated.error, null)
    assert.equal(updated.data.user!.user_metadata.display_name, 'Journey')
    const fetched = await supabase.auth.getUser()
    assert.equal(fetched.data.user!.user_metadata.display_name, 'Journey')
    assert.equal(fetched.data.user!.user_metadata.email_verified, true, 'earlier keys are kept')

    assert.equal((await supabase.auth.signOut()).error, null)
    const dead = await client().auth.refreshSession({ refresh_token: next.refresh_token })
    assert.equal(dead.error?.status, 400)
    assert.equal(dead.error?.code, 'refresh_token_not_found')
    const [{ sessions }] = await sql`
      select count(*)::int as sessions from auth.sessions where user_id = ${userId}`
    assert.equal(sessions, 0, 'a global sign-out ends every session of the user')
    const stale = await client().auth.getUser(next.access_token)
    assert.equal(stale.error?.name, 'AuthSessionMissingError')
  } finally {
    await sql.end()
  }
})

Deno.test('wrong password, taken email and weak password answer GoTrue codes and statuses', async () => {
  const supabase = client()
  const email = uniqueEmail('errors')
  assert.equal((await supabase.auth.signUp({ email, password: PASSWORD })).error, null)

  const wrong = await supabase.auth.signInWithPassword({ email, password: 'not-the-password' })
  assert.equal(wrong.error?.status, 400)
  assert.equal(wrong.error?.code, 'invalid_credentials')
  const nobody = await supabase.auth.signInWithPassword({
    email: uniqueEmail('nobody'),
    password: PASSWORD,
  })
  assert.equal(nobody.error?.code, 'invalid_credentials', 'an unknown email reads the same')

  const taken = await supabase.auth.signUp({ email: email.toUpperCase(), password: PASSWORD })
  assert.equal(taken.error?.status, 422)
  assert.equal(taken.error?.code, 'user_already_exists')

  const weak = await supabase.auth.signUp({ email: uniqueEmail('weak'), password: '12345' })
  assert.equal(weak.error?.status, 422)
  assert.equal(weak.error?.code, 'weak_password')
  assert.deepEqual((weak.error as unknown as { reasons: string[] }).reasons, ['length'])

  const same = await supabase.auth.updateUser({ password: PASSWORD })
  assert.equal(same.error?.status, 422)
  assert.equal(same.error?.code, 'same_password')

  const bad = await supabase.auth.signUp({ email: 'not-an-email', password: PASSWORD })
  assert.equal(bad.error?.status, 400)
  assert.equal(bad.error?.code, 'validation_failed')
})

Deno.test("seed 001's health-check signup works with curl's request, and a second run is 422", async () => {
  const sql = adminSql()
  try {
    await sql`delete from auth.users where email = 'health-check@test.com'`
    const body = JSON.stringify({ email: 'health-check@test.com', password: 'TestPass123!' })
    // `curl -d` without -H sends the JSON as a form; GoTrue reads the body as JSON regardless.
    const first = await authFetch('/signup', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    assert.equal(first.status, 200)
    const session = await first.json()
    assert.equal(session.token_type, 'bearer')
    assert.equal(session.user.email, 'health-check@test.com')
    assert.ok(session.expires_at > Date.now() / 1000)

    const second = await authFetch('/signup', { method: 'POST', body })
    assert.equal(second.status, 422)
    assert.equal(second.headers.get('x-sb-error-code'), 'user_already_exists')
    assert.deepEqual(await second.json(), {
      code: 422,
      error_code: 'user_already_exists',
      msg: 'User already registered',
    })
  } finally {
    await sql.end()
  }
})

Deno.test('Auth needs one of the project keys, as the gateway in front of GoTrue does', async () => {
  const missing = await authFetch('/signup', { method: 'POST', body: '{}', key: null })
  assert.equal(missing.status, 401)
  assert.deepEqual(await missing.json(), { message: 'No API key found in request' })
  const forged = await authFetch('/signup', { method: 'POST', body: '{}', key: 'not.a.key' })
  assert.equal(forged.status, 401)
  assert.deepEqual(await forged.json(), { message: 'Invalid authentication credentials' })
})

Deno.test('bad requests name their problem without echoing the input', async () => {
  const notJson = await authFetch('/signup', { method: 'POST', body: '{"email":' })
  assert.equal(notJson.status, 400)
  assert.equal((await notJson.json()).error_code, 'bad_json')
  const wrongType = await authFetch('/token?grant_type=password', {
    method: 'POST',
    body: JSON.stringify({ email: 42, password: 'x'.repeat(10_000) }),
  })
  assert.equal(wrongType.status, 400)
  const text = await wrongType.text()
  assert.match(text, /email must be a string/)
  assert.ok(text.length < 300, 'the error does not repeat the body')
  const grant = await authFetch('/token?grant_type=magic', { method: 'POST', body: '{}' })
  assert.equal(grant.status, 400)
  const noToken = await authFetch('/token?grant_type=refresh_token', { method: 'POST', body: '{}' })
  assert.deepEqual(await noToken.json(), {
    error: 'invalid_request',
    error_description: 'refresh_token required',
  })
  const method = await authFetch('/signup', { method: 'GET' })
  assert.equal(method.status, 405)
  assert.equal(method.headers.get('allow'), 'POST')
  await method.body?.cancel()
  const user = await authFetch('/user', { headers: { authorization: `Bearer ${env.anonKey}` } })
  assert.equal(user.status, 403)
  assert.equal((await user.json()).error_code, 'bad_jwt', 'the anon key is nobody')
  const unsigned = await authFetch('/user')
  assert.equal(unsigned.status, 401)
  assert.equal((await unsigned.json()).error_code, 'no_authorization')
})

Deno.test('admin creates, lists, reads and deletes users with the service_role key only', async () => {
  const admin = client(env.serviceRoleKey).auth.admin
  const email = uniqueEmail('admin')
  const created = await admin.createUser({
    email,
    password: PASSWORD,
    email_confirm: true,
    user_metadata: { plan: 'pro' },
    app_metadata: { tier: 'gold' },
  })
  assert.equal(created.error, null)
  const user = created.data.user!
  assert.equal(user.email, email)
  assert.ok(user.email_confirmed_at)
  assert.equal(user.user_metadata.plan, 'pro')
  assert.deepEqual(user.app_metadata, { provider: 'email', providers: ['email'], tier: 'gold' })
  const signIn = await client().auth.signInWithPassword({ email, password: PASSWORD })
  assert.equal(signIn.error, null, 'an admin-created confirmed user signs in')

  const again = await admin.createUser({ email, password: PASSWORD })
  assert.equal(again.error?.status, 422)
  assert.equal(again.error?.code, 'email_exists')

  const listed = await admin.listUsers({ page: 1, perPage: 1000 })
  assert.equal(listed.error, null)
  assert.ok(listed.data.users.some((u) => u.id === user.id))
  assert.equal(listed.data.aud, 'authenticated')
  assert.ok((listed.data as unknown as { total: number }).total >= listed.data.users.length)
  const firstPage = await admin.listUsers({ page: 1, perPage: 1 })
  assert.equal(firstPage.data.users.length, 1)
  assert.equal((firstPage.data as unknown as { nextPage: number }).nextPage, 2)

  const notAdmin = await client().auth.admin.listUsers()
  assert.equal(notAdmin.error?.status, 403)
  assert.equal(notAdmin.error?.code, 'not_admin')

  assert.equal((await admin.getUserById(user.id)).data.user?.email, email)
  assert.equal((await admin.deleteUser(user.id)).error, null)
  const gone = await admin.getUserById(user.id)
  assert.equal(gone.error?.status, 404)
  assert.equal(gone.error?.code, 'user_not_found')
  const signInGone = await client().auth.signInWithPassword({ email, password: PASSWORD })
  assert.equal(signInGone.error?.code, 'invalid_credentials')
})

Deno.test('a soft-deleted user keeps its row but can never sign in again', async () => {
  const sql = adminSql()
  try {
    const admin = client(env.serviceRoleKey).auth.admin
    const email = uniqueEmail('soft')
    const { data } = await admin.createUser({ email, password: PASSWORD, email_confirm: true })
    assert.equal((await admin.deleteUser(data.user!.id, true)).error, null)
    const [row] = await sql`select email, deleted_at from auth.users where id = ${data.user!.id}`
    assert.equal(row.email, null)
    assert.ok(row.deleted_at)
    const signIn = await client().auth.signInWithPassword({ email, password: PASSWORD })
    assert.equal(signIn.error?.code, 'invalid_credentials')
  } finally {
    await sql.end()
  }
})

/**
 * An Auth of its own on the test database with other settings: confirmations on, and no reuse
 * interval, so reuse of a spent refresh token is detected at once.
 */
async function withAuthServer(fn: (url: string) => Promise<void>) {
  const at = new URL(env.dbUrl)
  const sql = connectAuthDb({
    host: at.hostname,
    port: Number(at.port),
    database: at.pathname.slice(1),
  })
  const server = Deno.serve(
    { hostname: '127.0.0.1', port: 0, onListen: () => {} },
    createAuthHandler({
      sql,
      jwtSecret: env.jwtSecret,
      settings: {
        ...DEFAULT_AUTH_SETTINGS,
        enableConfirmations: true,
        refreshTokenReuseInterval: 0,
      },
    }),
  )
  try {
    await fn(`http://127.0.0.1:${server.addr.port}`)
  } finally {
    await server.shutdown()
    await sql.end()
  }
}

Deno.test('with confirmations on, signup returns the user without a session and sign-in waits for the confirmation', async () => {
  await withAuthServer(async (url) => {
    const supabase = client(env.anonKey, url)
    const email = uniqueEmail('confirm')
    const signUp = await supabase.auth.signUp({ email, password: PASSWORD })
    assert.equal(signUp.error, null)
    assert.equal(signUp.data.session, null)
    assert.equal(signUp.data.user?.email, email)
    assert.equal(signUp.data.user?.email_confirmed_at, undefined)
    assert.ok(signUp.data.user?.confirmation_sent_at)

    const signIn = await supabase.auth.signInWithPassword({ email, password: PASSWORD })
    assert.equal(signIn.error?.status, 400)
    assert.equal(signIn.error?.code, 'email_not_confirmed')

    // A confirmed address is not revealed: the answer is a user, but not the real one.
    const admin = client(env.serviceRoleKey, url).auth.admin
    const confirmedEmail = uniqueEmail('confirmed')
    const { data } = await admin.createUser({
      email: confirmedEmail,
      password: PASSWORD,
      email_confirm: true,
    })
    const again = await supabase.auth.signUp({ email: confirmedEmail, password: PASSWORD })
    assert.equal(again.error, null)
    assert.equal(again.data.session, null)
    assert.notEqual(again.data.user?.id, data.user!.id)
    assert.deepEqual(again.data.user?.identities, [])
  })
})

Deno.test('a refresh token is rotated: its direct child is handed back, an older one revokes the session', async () => {
  await withAuthServer(async (url) => {
    const email = uniqueEmail('rotate')
    await client(env.serviceRoleKey, url).auth.admin.createUser({
      email,
      password: PASSWORD,
      email_confirm: true,
    })
    const supabase = client(env.anonKey, url)
    const refresh = async (refresh_token: string) =>
      await client(env.anonKey, url).auth.refreshSession({ refresh_token })
    const t1 = (await supabase.auth.signInWithPassword({ email, password: PASSWORD })).data
      .session!.refresh_token
    const t2 = (await refresh(t1)).data.session!.refresh_token
    assert.notEqual(t2, t1)
    assert.equal((await refresh(t1)).data.session?.refresh_token, t2, 'a lost answer is repeated')
    const t3 = (await refresh(t2)).data.session!.refresh_token

    const reused = await refresh(t1)
    assert.equal(reused.error?.status, 400)
    assert.equal(reused.error?.code, 'refresh_token_already_used')
    const revoked = await refresh(t3)
    assert.equal(revoked.error?.code, 'refresh_token_already_used', 'reuse ended the session')
  })
})
