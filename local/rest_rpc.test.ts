// The RPC route's arguments and tokens, as PostgREST treats them: an argument of the wrong
// JSON type is a 400 (never a silent NULL), and a token is judged by the same rule as the
// functions judge it.
import assert from 'node:assert/strict'
import { SignJWT } from 'jose'
import { adminSql, testStackEnv } from './testing.ts'

const env = testStackEnv()

function rpc(fn: string, body: unknown, key = env.serviceRoleKey) {
  return fetch(`${env.apiUrl}/rest/v1/rpc/${fn}`, {
    method: 'POST',
    headers: { apikey: key, authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
}

Deno.test('a JSON object for an array parameter is a 400, not a NULL', async () => {
  const res = await rpc('ack_events', { p_ids: { a: 1 }, p_lease_token: crypto.randomUUID() })
  const body = await res.json()
  assert.equal(res.status, 400, JSON.stringify(body))
  assert.match(body.message, /array/i)
})

Deno.test('arguments of the wrong JSON type are 400s naming the problem', async () => {
  const token = crypto.randomUUID()
  const cases: [string, unknown][] = [
    ['an array element of the wrong type', { p_ids: ['x'], p_lease_token: token }],
    ['a string for an array', { p_ids: 'not an array', p_lease_token: token }],
    ['an object for a uuid', { p_ids: [1], p_lease_token: { id: token } }],
    ['an array for a uuid', { p_ids: [1], p_lease_token: [token] }],
  ]
  for (const [what, args] of cases) {
    const res = await rpc('ack_events', args)
    const body = await res.json()
    assert.equal(res.status, 400, `${what}: ${JSON.stringify(body)}`)
  }
})

Deno.test('well-typed arguments still work, JSON arrays and nulls included', async () => {
  const sql = adminSql()
  try {
    await sql.unsafe(`
      create or replace function public.rpc_test_echo(
        p_ids bigint[], p_tags text[], p_n int, p_doc jsonb, p_flag boolean default false)
      returns jsonb language sql immutable set search_path = ''
      as $$ select pg_catalog.jsonb_build_object(
        'ids', p_ids, 'tags', p_tags, 'n', p_n, 'doc', p_doc, 'flag', p_flag) $$;
      grant execute on function public.rpc_test_echo(bigint[], text[], int, jsonb, boolean)
        to service_role;`)
    const res = await rpc('rpc_test_echo', {
      p_ids: [1, 2],
      p_tags: ['a', 'b,c'],
      p_n: 7,
      p_doc: { deep: [1, { x: null }] },
    })
    const body = await res.json()
    assert.equal(res.status, 200, JSON.stringify(body))
    assert.deepEqual(body, {
      ids: [1, 2],
      tags: ['a', 'b,c'],
      n: 7,
      doc: { deep: [1, { x: null }] },
      flag: false,
    })
    const nulls = await rpc('rpc_test_echo', { p_ids: null, p_tags: [], p_n: null, p_doc: null })
    assert.deepEqual(await nulls.json(), { ids: null, tags: [], n: null, doc: null, flag: false })
  } finally {
    await sql`drop function if exists public.rpc_test_echo(bigint[], text[], int, jsonb, boolean)`
    await sql.end()
  }
})

Deno.test('a token without exp gets the same answer from an RPC and from a function', async () => {
  const noExp = await new SignJWT({ role: 'service_role' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .sign(new TextEncoder().encode(env.jwtSecret))
  const viaRpc = await rpc('ack_events', { p_ids: [], p_lease_token: crypto.randomUUID() }, noExp)
  assert.equal(viaRpc.status, 200, await viaRpc.clone().text())
  assert.equal(await viaRpc.json(), 0)
  // Through the gateway's verify_jwt and the function's own check: a validation error, not 401.
  const viaFunction = await fetch(`${env.apiUrl}/functions/v1/queue-worker`, {
    method: 'POST',
    headers: { authorization: `Bearer ${noExp}`, 'content-type': 'application/json' },
    body: '{}',
  })
  const body = await viaFunction.json()
  assert.equal(viaFunction.status, 400, JSON.stringify(body))
  assert.equal(body.error.code, 'invalid_request')
})

Deno.test('an expired token is refused by both', async () => {
  const expired = await new SignJWT({ role: 'service_role' })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setExpirationTime(Math.floor(Date.now() / 1000) - 120)
    .sign(new TextEncoder().encode(env.jwtSecret))
  const viaRpc = await rpc('ack_events', { p_ids: [], p_lease_token: crypto.randomUUID() }, expired)
  assert.equal(viaRpc.status, 401)
  await viaRpc.body?.cancel()
  const viaFunction = await fetch(`${env.apiUrl}/functions/v1/queue-worker`, {
    method: 'POST',
    headers: { authorization: `Bearer ${expired}` },
    body: '{}',
  })
  assert.equal(viaFunction.status, 401)
  await viaFunction.body?.cancel()
})
