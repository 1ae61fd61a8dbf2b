import assert from 'node:assert/strict'
import { dbOptions } from './db.ts'
import { parseEnv } from './env.ts'
import { EnvError } from './settings.ts'

const valid = {
  SUPABASE_URL: 'http://127.0.0.1:54321',
  SUPABASE_DB_URL: 'postgresql://postgres:postgres@127.0.0.1:54322/postgres',
  SUPABASE_ANON_KEY: 'anon-key',
  SUPABASE_SERVICE_ROLE_KEY: 'service-role-key',
  JWT_SECRET: 'super-secret-jwt-token-with-at-least-32-characters-long',
}

const jwks = JSON.stringify({
  keys: [{ kty: 'EC', crv: 'P-256', kid: 'k1', alg: 'ES256', x: 'x', y: 'y' }],
})

function envError(raw: Record<string, string | undefined>): EnvError {
  try {
    parseEnv(raw)
  } catch (err) {
    assert.ok(err instanceof EnvError)
    return err
  }
  assert.fail('expected parseEnv to throw')
}

Deno.test('a complete environment parses into typed values', () => {
  const env = parseEnv({ ...valid, UNRELATED: 'ignored' })
  assert.equal(env.SUPABASE_URL, valid.SUPABASE_URL)
  assert.equal(env.JWT_SECRET, valid.JWT_SECRET)
  assert.equal(env.SUPABASE_JWKS, undefined)
  assert.equal('UNRELATED' in env, false)
})

for (
  const name of [
    'SUPABASE_URL',
    'SUPABASE_DB_URL',
    'SUPABASE_ANON_KEY',
    'SUPABASE_SERVICE_ROLE_KEY',
  ]
) {
  Deno.test(`a missing ${name} is named as required`, () => {
    const err = envError({ ...valid, [name]: undefined })
    assert.match(err.message, new RegExp(`${name}: required`))
    assert.deepEqual(err.issues.map((i) => i.variable), [name])
  })

  Deno.test(`an empty ${name} counts as missing`, () => {
    assert.match(envError({ ...valid, [name]: '' }).message, new RegExp(`${name}: required`))
  })
}

Deno.test('every bad variable is named in one error', () => {
  const err = envError({ ...valid, SUPABASE_URL: 'not a url', SUPABASE_DB_URL: undefined })
  assert.match(err.message, /SUPABASE_URL: must be an http\(s\) URL/)
  assert.match(err.message, /SUPABASE_DB_URL: required/)
})

Deno.test('a non-postgres database URL is rejected', () => {
  const err = envError({ ...valid, SUPABASE_DB_URL: 'mysql://root@localhost/db' })
  assert.match(err.message, /SUPABASE_DB_URL: must be a postgres:\/\/ URL/)
})

Deno.test('a JWT secret shorter than 32 characters is rejected', () => {
  assert.match(
    envError({ ...valid, JWT_SECRET: 'short' }).message,
    /JWT_SECRET: must be at least 32/,
  )
})

Deno.test('SUPABASE_JWKS is parsed from JSON into a key set', () => {
  const env = parseEnv({ ...valid, JWT_SECRET: undefined, SUPABASE_JWKS: jwks })
  assert.equal(env.SUPABASE_JWKS?.keys.length, 1)
  assert.equal(env.SUPABASE_JWKS?.keys[0].kid, 'k1')
  assert.equal(env.JWT_SECRET, undefined)
})

Deno.test('SUPABASE_JWKS that is not JSON is named', () => {
  assert.match(
    envError({ ...valid, SUPABASE_JWKS: '{nope' }).message,
    /SUPABASE_JWKS: .*invalid JSON/,
  )
})

Deno.test('SUPABASE_JWKS without a keys array is named', () => {
  assert.match(
    envError({ ...valid, SUPABASE_JWKS: '[{"kty":"EC"}]' }).message,
    /SUPABASE_JWKS: must be a JSON Web Key Set/,
  )
})

Deno.test('neither JWT_SECRET nor SUPABASE_JWKS names both', () => {
  const err = envError({ ...valid, JWT_SECRET: undefined })
  assert.deepEqual(err.issues.map((i) => i.variable), ['JWT_SECRET', 'SUPABASE_JWKS'])
})

Deno.test('an empty key set does not count as a verification key', () => {
  const err = envError({ ...valid, JWT_SECRET: undefined, SUPABASE_JWKS: '{"keys":[]}' })
  assert.deepEqual(err.issues.map((i) => i.variable), ['JWT_SECRET', 'SUPABASE_JWKS'])
})

Deno.test('an empty key set is reported as no key even when other variables fail', () => {
  const err = envError({
    ...valid,
    SUPABASE_URL: undefined,
    JWT_SECRET: undefined,
    SUPABASE_JWKS: '{"keys":[]}',
  })
  assert.deepEqual(err.issues.map((i) => i.variable), [
    'SUPABASE_URL',
    'JWT_SECRET',
    'SUPABASE_JWKS',
  ])
})

Deno.test('a malformed SUPABASE_JWKS is named once, without the secret rule', () => {
  const err = envError({ ...valid, JWT_SECRET: undefined, SUPABASE_JWKS: '{nope' })
  assert.deepEqual(err.issues.map((i) => i.variable), ['SUPABASE_JWKS'])
})

Deno.test('the secret rule is reported alongside other missing variables', () => {
  const err = envError({})
  assert.deepEqual(err.issues.map((i) => i.variable), [
    'SUPABASE_URL',
    'SUPABASE_DB_URL',
    'SUPABASE_ANON_KEY',
    'SUPABASE_SERVICE_ROLE_KEY',
    'JWT_SECRET',
    'SUPABASE_JWKS',
  ])
})

Deno.test('an invalid SENTRY_DSN is named, an absent one is fine', () => {
  assert.match(envError({ ...valid, SENTRY_DSN: 'nope' }).message, /SENTRY_DSN: must be a URL/)
  assert.equal(parseEnv({ ...valid, SENTRY_DSN: '' }).SENTRY_DSN, undefined)
})

Deno.test('the error message never contains a secret value', () => {
  const err = envError({ ...valid, SUPABASE_URL: 'bad', JWT_SECRET: 'tiny-secret' })
  assert.equal(err.message.includes('tiny-secret'), false)
  assert.equal(err.message.includes(valid.SUPABASE_SERVICE_ROLE_KEY), false)
})

Deno.test('the database timeouts default to 2 s for locks and 60 s for statements', () => {
  const env = parseEnv(valid)
  assert.equal(env.FUNCTION_DB_LOCK_TIMEOUT_MS, 2000)
  assert.equal(env.FUNCTION_DB_STATEMENT_TIMEOUT_MS, 60_000)
  assert.deepEqual(dbOptions(env), { lockTimeoutMs: 2000, statementTimeoutMs: 60_000 })
  const set = parseEnv({
    ...valid,
    FUNCTION_DB_LOCK_TIMEOUT_MS: '500',
    FUNCTION_DB_STATEMENT_TIMEOUT_MS: '30000',
  })
  assert.deepEqual(dbOptions(set), { lockTimeoutMs: 500, statementTimeoutMs: 30_000 })
})

Deno.test('a database timeout of 0 (no limit) or out of range is refused, naming it', () => {
  const err = envError({
    ...valid,
    FUNCTION_DB_LOCK_TIMEOUT_MS: '0',
    FUNCTION_DB_STATEMENT_TIMEOUT_MS: '999999999',
  })
  assert.match(err.message, /FUNCTION_DB_LOCK_TIMEOUT_MS: must be between 1 and 600000/)
  assert.match(err.message, /FUNCTION_DB_STATEMENT_TIMEOUT_MS: must be between 1 and 400000/)
})
