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

Deno.test('a PT429 from our SQL is a 429 whose Retry-After comes from the message', () => {
  const err = toHttpError(pgError('PT429', 'rate limit exceeded: retry in 17 s'))
  assert.equal(err?.status, 429)
  assert.equal(err?.code, 'rate_limited')
  assert.equal(err?.retryAfter, 17)
  assert.equal(toHttpError(pgError('PT429', 'rate limit exceeded'))?.retryAfter, 1)
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

// A 400 that repeats the caller's input in full can be larger than the request itself.
Deno.test('a zod error echoes a huge value only in part', () => {
  const schema = z.object({
    topic: z.string().refine(() => false, { error: (i) => `bad ${JSON.stringify(i.input)}` }),
  })
  const err = fromZodError(schema.safeParse({ topic: 'x'.repeat(1_000_000) }).error!)
  assert.ok(err.message.length < 1000, `message is ${err.message.length} characters`)
  assert.match(err.message, /^topic: bad "xxx/)
  assert.match(err.message, /…$/)
  assert.ok(JSON.stringify(err.details).length < 1000)
})

Deno.test('a zod error lists unknown keys up to a limit and counts the rest', () => {
  const keys = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`key${i}`, i]))
  const err = fromZodError(z.strictObject({}).safeParse(keys).error!)
  const size = JSON.stringify({ message: err.message, details: err.details }).length
  assert.ok(size < 2000, `error is ${size} characters`)
  assert.match(err.message, /key0/)
  assert.doesNotMatch(err.message, /key19999/)
  assert.match(err.message, /and 19990 more/)
})

Deno.test('a zod error reports a bounded number of issues and says how many it left out', () => {
  const schema = z.array(z.number())
  const err = fromZodError(schema.safeParse(Array.from({ length: 5000 }, () => 'no')).error!)
  const details = err.details as { issues: unknown[]; omitted_issues: number }
  assert.equal(details.issues.length, 10)
  assert.equal(details.omitted_issues, 4990)
  assert.match(err.message, /\[9\]: .*; and 4990 more issues$/)
  assert.ok(err.message.length < 3000)
})

Deno.test('a long key in a zod path is shortened too', () => {
  const err = fromZodError(
    z.record(z.string(), z.number()).safeParse({ ['k'.repeat(100_000)]: 'x' })
      .error!,
  )
  assert.ok(err.message.length < 1000, `message is ${err.message.length} characters`)
})

Deno.test('an echoed database message is shortened', () => {
  const err = toHttpError(
    pgError('22P02', `invalid input syntax for type uuid: "${'z'.repeat(1e6)}"`),
  )
  assert.equal(err?.status, 400)
  assert.ok(err!.message.length < 1000, `message is ${err!.message.length} characters`)
  assert.match(err!.message, /^invalid input syntax for type uuid: "zzz/)
})
