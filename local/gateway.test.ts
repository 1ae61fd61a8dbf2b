// The gateway in front of functions and RPCs, over real HTTP: routing, verify_jwt, and the
// PostgREST-style RPC route under each role.
import assert from 'node:assert/strict'
import { SignJWT } from 'jose'
import { withStubGateway } from './gateway_testing.ts'
import { adminSql, eventually, testStackEnv } from './testing.ts'

const env = testStackEnv()

function rpc(fn: string, init: { key?: string; bearer?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' }
  if (init.key) headers.apikey = init.key
  if (init.bearer) headers.authorization = `Bearer ${init.bearer}`
  return fetch(`${env.apiUrl}/rest/v1/rpc/${fn}`, {
    method: 'POST',
    headers,
    body: JSON.stringify(init.body ?? {}),
  })
}

Deno.test('an unknown function answers 404 JSON', async () => {
  const res = await fetch(`${env.apiUrl}/functions/v1/no-such-function`)
  assert.equal(res.status, 404)
  assert.equal((await res.json()).error.code, 'function_not_found')
})

Deno.test('an unknown route answers 404 JSON', async () => {
  const res = await fetch(`${env.apiUrl}/nothing/here`)
  assert.equal(res.status, 404)
  assert.equal((await res.json()).error.code, 'not_found')
})

Deno.test('verify_jwt rejects a missing, malformed or wrongly signed bearer with 401', async () => {
  await withStubGateway({ verifyJwt: true, jwtSecret: env.jwtSecret }, async (base, seen) => {
    const forged = await new SignJWT({ role: 'service_role' })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode('not-the-project-secret-not-the-project-secret'))
    for (const auth of [undefined, 'Bearer', 'Bearer not.a.jwt', `Bearer ${forged}`]) {
      const res = await fetch(`${base}/functions/v1/stub`, {
        headers: auth ? { authorization: auth } : {},
      })
      assert.equal(res.status, 401, `authorization ${auth}`)
      assert.equal((await res.json()).error.code, 'unauthorized')
    }
    assert.deepEqual(seen, [], 'no rejected request reaches the function')
  })
})

Deno.test('verify_jwt passes a valid key and strips /functions/v1 from the path', async () => {
  await withStubGateway({ verifyJwt: true, jwtSecret: env.jwtSecret }, async (base, seen) => {
    const res = await fetch(`${base}/functions/v1/stub/sub/path?x=1`, {
      headers: { authorization: `Bearer ${env.anonKey}` },
    })
    assert.equal(res.status, 200)
    assert.deepEqual(await res.json(), { ok: true })
    assert.deepEqual(seen, ['/stub/sub/path'])
  })
})

Deno.test('a function with verify_jwt off is reachable without a key', async () => {
  await withStubGateway({ verifyJwt: false, jwtSecret: env.jwtSecret }, async (base) => {
    const res = await fetch(`${base}/functions/v1/stub`)
    assert.equal(res.status, 200)
    await res.body?.cancel()
  })
})

Deno.test('health_check over the RPC route works with only the anon key', async () => {
  const res = await rpc('health_check', { key: env.anonKey, bearer: env.anonKey })
  const body = await res.json()
  assert.equal(res.status, 200, JSON.stringify(body))
  assert.equal(body.app.status, 'ok')
  assert.equal(body.database.status, 'ok')
  const apikeyOnly = await rpc('health_check', { key: env.anonKey })
  assert.equal(apikeyOnly.status, 200)
  await apikeyOnly.body?.cancel()
})

Deno.test('the RPC route refuses a request without an apikey, as Supabase does', async () => {
  const none = await rpc('health_check')
  assert.equal(none.status, 401)
  await none.body?.cancel()
  const bearerOnly = await rpc('health_check', { bearer: env.serviceRoleKey })
  assert.equal(bearerOnly.status, 401)
  assert.equal((await bearerOnly.json()).message, 'No API key found in request')
})

Deno.test('the real stack enforces verify_jwt from config.toml', async () => {
  // queue-worker has verify_jwt = true: no token never reaches the function.
  const res = await fetch(`${env.apiUrl}/functions/v1/queue-worker`, { method: 'POST' })
  assert.equal(res.status, 401)
  assert.equal((await res.json()).error.code, 'unauthorized')
})

Deno.test("an RPC runs under the role's own statement_timeout, as through PostgREST", async () => {
  const sql = adminSql()
  try {
    await sql.unsafe(`
      create or replace function public.gateway_test_slow()
      returns int language sql set search_path = '' as $$ select 1 from pg_sleep(4) $$;
      grant execute on function public.gateway_test_slow() to anon;`)
    const res = await rpc('gateway_test_slow', { key: env.anonKey })
    const body = await res.json()
    assert.equal(body.code, '57014', 'anon has a 3 s statement_timeout')
    assert.equal(res.status, 500)
  } finally {
    await sql`drop function if exists public.gateway_test_slow()`
    await sql.end()
  }
})

Deno.test('the RPC route answers 404 for a missing function or one the role may not run', async () => {
  const sql = adminSql()
  try {
    await sql.unsafe(`
      create or replace function public.gateway_test_service_only(p_n int)
      returns int language sql set search_path = '' as $$ select p_n * 2 $$;
      revoke execute on function public.gateway_test_service_only(int) from public, anon,
        authenticated;
      grant execute on function public.gateway_test_service_only(int) to service_role;`)
    const missing = await rpc('no_such_function', { key: env.anonKey })
    assert.equal(missing.status, 404)
    assert.equal((await missing.json()).code, 'PGRST202')
    const asAnon = await rpc('gateway_test_service_only', {
      key: env.anonKey,
      body: { p_n: 21 },
    })
    assert.equal(asAnon.status, 404)
    await asAnon.body?.cancel()
    const asService = await rpc('gateway_test_service_only', {
      key: env.anonKey,
      bearer: env.serviceRoleKey,
      body: { p_n: 21 },
    })
    assert.equal(asService.status, 200)
    assert.equal(await asService.json(), 42)
  } finally {
    await sql`drop function if exists public.gateway_test_service_only(int)`
    await sql.end()
  }
})

Deno.test('the RPC route runs under the caller role and claims', async () => {
  const sql = adminSql()
  try {
    await sql.unsafe(`
      create or replace function public.gateway_test_whoami()
      returns table(role text, uid uuid) language sql stable set search_path = ''
      as $$ select current_user::text, auth.uid() $$;
      grant execute on function public.gateway_test_whoami() to anon, authenticated;`)
    const asAnon = await rpc('gateway_test_whoami', { key: env.anonKey })
    assert.deepEqual(await asAnon.json(), [{ role: 'anon', uid: null }])
    const userId = crypto.randomUUID()
    const userJwt = await new SignJWT({ role: 'authenticated', sub: userId })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode(env.jwtSecret))
    const asUser = await rpc('gateway_test_whoami', { key: env.anonKey, bearer: userJwt })
    assert.deepEqual(await asUser.json(), [{ role: 'authenticated', uid: userId }])
  } finally {
    await sql`drop function if exists public.gateway_test_whoami()`
    await sql.end()
  }
})

Deno.test('a net.http_get to the health function lands as a 200 response row', async () => {
  const sql = adminSql()
  try {
    const [{ id }] = await sql`
      select net.http_get(${env.apiUrl + '/functions/v1/health'}) as id`
    const row = await eventually(async () => {
      const rows = await sql`
        select status_code, content, timed_out, jsonb_typeof(headers) as headers_type
          from net._http_response where id = ${id}`
      return rows[0]
    })
    assert.equal(row.status_code, 200)
    assert.equal(row.timed_out, false)
    assert.equal(row.headers_type, 'object')
    assert.equal(JSON.parse(row.content).database.status, 'ok')
  } finally {
    await sql.end()
  }
})

/** A server that counts the requests it receives. */
function countingServer() {
  let hits = 0
  const server = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, () => {
    hits++
    return new Response('ok')
  })
  return { url: `http://127.0.0.1:${server.addr.port}/`, hits: () => hits, server }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

Deno.test('a queued request is sent only after its transaction commits', async () => {
  const stub = countingServer()
  const sql = adminSql()
  try {
    let id = 0
    await sql.begin(async (tx) => {
      ;[{ id }] = await tx`select net.http_get(${stub.url}) as id`
      await sleep(1500) // longer than the drain's poll interval
      assert.equal(stub.hits(), 0, 'nothing is sent while the transaction is open')
    })
    await eventually(async () => (await sql`select 1 from net._http_response where id = ${id}`)[0])
    assert.equal(stub.hits(), 1)
  } finally {
    await sql.end()
    await stub.server.shutdown()
  }
})

Deno.test('a request queued in a rolled-back transaction is never sent', async () => {
  const stub = countingServer()
  const sql = adminSql()
  try {
    await sql.begin(async (tx) => {
      await tx`select net.http_get(${stub.url})`
      throw new Error('rollback on purpose')
    }).catch((err) => assert.equal(err.message, 'rollback on purpose'))
    await sleep(1500)
    assert.equal(stub.hits(), 0)
  } finally {
    await sql.end()
    await stub.server.shutdown()
  }
})

Deno.test('a request that outlives its timeout is recorded as timed out', async () => {
  const slow = Deno.serve({ hostname: '127.0.0.1', port: 0, onListen: () => {} }, async () => {
    await new Promise((r) => setTimeout(r, 1500))
    return new Response('late')
  })
  const sql = adminSql()
  try {
    const url = `http://127.0.0.1:${slow.addr.port}/`
    const [{ id }] = await sql`select net.http_get(${url}, timeout_milliseconds => 200) as id`
    const row = await eventually(async () =>
      (await sql`select timed_out, status_code from net._http_response where id = ${id}`)[0]
    )
    assert.equal(row.timed_out, true)
    assert.equal(row.status_code, null)
  } finally {
    await sql.end()
    await slow.shutdown()
  }
})
