// Rate limiting for function routes: a Hono middleware factory over public.check_rate_limit
// (fixed, epoch-aligned windows counted atomically in Postgres, so every isolate shares one
// count). Over the limit it answers 429 with Retry-After through the app's one error path.
// For user endpoints such as policy-ranker, which limit each signed-in user.
import type { Context, Env, MiddlewareHandler } from 'hono'
import type { Sql } from './db.ts'
import { tooManyRequests } from './errors.ts'

export interface RateLimitOptions<E extends Env = Env> {
  /** Client that calls public.check_rate_limit (service_role or the owner may execute it). */
  sql: Sql
  /** What is limited, e.g. 'policy-ranker:decide'; counters are per (subject, bucket). */
  bucket: string
  /** Calls admitted per subject per window (>= 1). */
  limit: number
  /** Window length in seconds (1-86400); windows are aligned to the Unix epoch. */
  windowSeconds: number
  /**
   * Who is counted: usually the user id (`c.get('userId')` after requireUser). Return null or
   * undefined to exempt the request (e.g. service_role callers).
   */
  subject: (c: Context<E>) => string | null | undefined
  /** Clock in ms for Retry-After, injectable for tests. Default Date.now. */
  now?: () => number
}

interface CheckRow {
  allowed: boolean
  remaining: number
  reset_at: Date
}

/**
 * Returns the middleware. Every response it lets through carries RateLimit-Limit,
 * RateLimit-Remaining, RateLimit-Reset (seconds) and RateLimit-Policy (IETF httpapi draft), plus
 * X-RateLimit-Remaining for older clients. A refused request gets 429
 * `{ error: { code: 'rate_limited', … } }` with Retry-After, rendered by createApp's onError.
 * A database failure propagates (503 through PG_ERRORS): without a count we cannot say yes.
 */
export function rateLimit<E extends Env = Env>(options: RateLimitOptions<E>): MiddlewareHandler<E> {
  const { sql, bucket, limit, windowSeconds, subject, now = Date.now } = options
  if (!Number.isInteger(limit) || limit < 1) throw new Error('rateLimit: limit must be >= 1')
  if (!Number.isInteger(windowSeconds) || windowSeconds < 1 || windowSeconds > 86400) {
    throw new Error('rateLimit: windowSeconds must be 1..86400')
  }
  const policy = `${limit};w=${windowSeconds}`

  return async function rateLimit(c, next) {
    const who = subject(c)
    if (who === null || who === undefined || who === '') return await next()

    const [row] = await sql<CheckRow[]>`
      select allowed, remaining, reset_at
      from public.check_rate_limit(p_subject => ${who}::text, p_bucket => ${bucket}::text,
                                   p_limit => ${limit}::int,
                                   p_window_seconds => ${windowSeconds}::int)`
    // At least 1: a client told "0" would retry at once, still inside the window.
    const resetSeconds = Math.max(1, Math.ceil((row.reset_at.getTime() - now()) / 1000))
    c.header('ratelimit-limit', String(limit))
    c.header('ratelimit-remaining', String(row.remaining))
    c.header('ratelimit-reset', String(resetSeconds))
    c.header('ratelimit-policy', policy)
    c.header('x-ratelimit-remaining', String(row.remaining))

    if (!row.allowed) {
      throw tooManyRequests(
        `Rate limit exceeded: ${limit} requests per ${windowSeconds} s`,
        resetSeconds,
        {
          code: 'rate_limited',
          details: {
            bucket,
            limit,
            window_seconds: windowSeconds,
            reset_at: row.reset_at.toISOString(),
          },
        },
      )
    }
    await next()
  }
}
