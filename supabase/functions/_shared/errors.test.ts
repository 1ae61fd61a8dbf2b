import assert from 'node:assert/strict'
import { z } from 'zod'
import {
  formatPath,
  fromZodError,
  HttpError,
  PG_ERRORS,
  toHttpError,
  tooManyRequests,
} from './errors.ts'

const pgError = (code: string, message = 'm', extra: Record<string, string> = {}) =>
  Object.assign(new Error(message), { code, ...extra })

Deno.test('factories set status, code and retryAfter', () => {
  const err = tooManyRequests('Slow down', 30)
  assert.ok(err instanceof HttpError)
  assert.equal(err.status, 429)
  assert.equal(err.code, 'too_many_requests')
  assert.equal(err.retryAfter, 30)
})

Deno.test('zod paths render like property access', () => {
  assert.equal(formatPath(['items', 2, 'id']), 'items[2].id')
  assert.equal(formatPath([]), 'body')
  assert.equal(formatPath([], 'query'), 'query')
})

Deno.test('a zod error becomes a 400 naming each field', () => {
  const schema = z.object({ limit: z.number().max(100), topic: z.string() })
  const result = schema.safeParse({ limit: 500 })
  assert.equal(result.success, false)
  const err = fromZodError(result.error!)
  assert.equal(err.status, 400)
  assert.equal(err.code, 'invalid_request')
  assert.match(err.message, /^limit: Too big/)
  assert.match(err.message, /topic: /)
  const details = err.details as { issues: { path: string }[] }
  assert.deepEqual(details.issues.map((i) => i.path), ['limit', 'topic'])
})

Deno.test('toHttpError passes HttpErrors through and converts zod errors', () => {
  const http = new HttpError(418, 'teapot', 'short and stout')
  assert.equal(toHttpError(http), http)
  assert.equal(toHttpError(z.string().safeParse(1).error)?.status, 400)
})

Deno.test('Postgres SQLSTATEs map to their HTTP meaning', () => {
  const cases: [string, number][] = [
    ['23505', 409],
    ['23503', 409],
    ['23502', 400],
    ['23514', 400],
    ['22023', 400],
    ['22P02', 400],
    ['42501', 403],
    ['57014', 503],
    ['40001', 503],
    ['55P03', 503],
    ['P0002', 404],
    ['PT410', 410],
  ]
  for (const [code, status] of cases) assert.equal(toHttpError(pgError(code))?.status, status, code)
})

Deno.test('a unique violation does not echo the row values in its message', () => {
  const err = toHttpError(
    pgError('23505', 'duplicate key value violates unique constraint "users_email_key"', {
      constraint_name: 'users_email_key',
    }),
  )
  assert.equal(err?.message, 'Conflicts with an existing record')
  assert.deepEqual(err?.details, { constraint: 'users_email_key' })
})

Deno.test('a closed window (PT410) is a 410 gone that keeps our message', () => {
  const err = toHttpError(pgError('PT410', 'the reward window of this decision has closed'))
  assert.equal(err?.status, 410)
  assert.equal(err?.code, 'gone')
  assert.equal(err?.message, 'the reward window of this decision has closed')
})

Deno.test('a not-null violation names the column', () => {
  const err = toHttpError(pgError('23502', 'null value…', { column_name: 'topic' }))
  assert.equal(err?.message, 'topic: required')
})

Deno.test('an argument error raised by our SQL keeps its message', () => {
  const err = toHttpError(pgError('22023', 'p_limit must be between 1 and 1000'))
  assert.equal(err?.message, 'p_limit must be between 1 and 1000')
})

Deno.test('connection failures become 503 database_unavailable', () => {
  for (const code of ['ECONNREFUSED', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED']) {
    const err = toHttpError(pgError(code, 'connect ECONNREFUSED 10.0.0.1:5432'))
    assert.equal(err?.status, 503)
    assert.equal(err?.code, 'database_unavailable')
    assert.equal(err?.message.includes('10.0.0.1'), false)
  }
})

Deno.test('a raise_exception with an unknown message stays opaque', () => {
  assert.equal(toHttpError(pgError('P0001', 'internal invariant broken')), null)
})

Deno.test('unknown SQLSTATEs and plain errors stay opaque', () => {
  assert.equal(toHttpError(pgError('XX000')), null)
  assert.equal(toHttpError(new Error('boom')), null)
  assert.equal(toHttpError('a string'), null)
})

Deno.test('the PG_ERRORS table lists each code once', () => {
  const keys = PG_ERRORS.map((r) => `${r.match}:${r.messages?.join('|') ?? ''}`)
  assert.equal(new Set(keys).size, keys.length)
})
