// Rate limiting for function routes: a Hono middleware factory over public.check_rate_limit
// (fixed, epoch-aligned windows counted atomically in Postgres, so every isolate shares one
// count). Over the limit it answers 429 with Retry-After through the app's one error path.
// For user endpoints such as policy-ranker, which limit each signed-in user. The check and the
// answer are also exported apart (createRateLimitCheck, applyRateLimit) for a handler that runs
// the check alongside its own queries instead of before them.
import type { Context, Env, MiddlewareHandler } from 'hono'
import type { Sql } from './db.ts'
import { tooManyRequests } from './errors.ts'

/** What is limited and how much; the middleware and a handler that checks on its own share it. */
export interface RateLimitRule {
  /** Client that calls public.check_rate_limit (service_role or the owner may execute it). */
  sql: Sql
  /** What is limited, e.g. 'policy-ranker:decide'; counters are per (subject, bucket). */
  bucket: string
  /** Calls admitted per subject per window (>= 1). */
  limit: number
  /** Window length in seconds (1-86400); windows are aligned to the Unix epoch. */
  windowSeconds: number
  /** Clock in ms for Retry-After, injectable for tests. Default Date.now. */
  now?: () => number
}

export interface RateLimitOptions<E extends Env = Env> extends RateLimitRule {
  /**
   * Who is counted: usually the user id (`c.get('userId')` after requireUser). Return null or
   * undefined to exempt the request (e.g. service_role callers).
   */
  subject: (c: Context<E>) => string | null | undefined
}

/** One counted call's outcome, with what its response headers say. */
export interface RateLimitVerdict {
  allowed: boolean
  remaining: number
  resetAt: Date
  /** Seconds until the window resets, at least 1: a client told "0" would retry at once. */
  resetSeconds: number
  bucket: string
  limit: number
  windowSeconds: number
}

/** Counts one call for a subject and says whether it is admitted. */
export type RateLimitCheck = (subject: string) => Promise<RateLimitVerdict>

interface CheckRow {
  allowed: boolean
  remaining: number
  reset_at: Date
}

/**
 * Validates the rule once (a nonsensical one throws at start-up) and returns its check: one
 * public.check_rate_limit call per subject. A database failure rejects (503 through
 * PG_ERRORS): without a count we cannot say yes. A handler that calls it directly can run it
 * alongside its own queries and settle it with applyRateLimit before it answers.
 */
export function createRateLimitCheck(rule: RateLimitRule): RateLimitCheck {
  const { sql, bucket, limit, windowSeconds, now = Date.now } = rule
  if (!Number.isInteger(limit) || limit < 1) throw new Error('rateLimit: limit must be >= 1')
  if (!Number.isInteger(windowSeconds) || windowSeconds < 1 || windowSeconds > 86400) {
    throw new Error('rateLimit: windowSeconds must be 1..86400')
  }
  return async function checkRateLimit(subject) {
    const [row] = await sql<CheckRow[]>`
      select allowed, remaining, reset_at
      from public.check_rate_limit(p_subject => ${subject}::text, p_bucket => ${bucket}::text,
                                   p_limit => ${limit}::int,
                                   p_window_seconds => ${windowSeconds}::int)`
    return {
      allowed: row.allowed,
      remaining: row.remaining,
      resetAt: row.reset_at,
      resetSeconds: Math.max(1, Math.ceil((row.reset_at.getTime() - now()) / 1000)),
      bucket,
      limit,
      windowSeconds,
    }
  }
}

/**
 * Puts a verdict on the response: RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset
 * (seconds) and RateLimit-Policy (IETF httpapi draft), plus X-RateLimit-Remaining for older
 * clients. A refused call throws 429 `{ error: { code: 'rate_limited', … } }` with Retry-After,
 * rendered by createApp's onError.
 */
export function applyRateLimit(c: Context, verdict: RateLimitVerdict): void {
  const { limit, windowSeconds, remaining, resetSeconds } = verdict
  c.header('ratelimit-limit', String(limit))
  c.header('ratelimit-remaining', String(remaining))
  c.header('ratelimit-reset', String(resetSeconds))
  c.header('ratelimit-policy', `${limit};w=${windowSeconds}`)
  c.header('x-ratelimit-remaining', String(remaining))
  if (!verdict.allowed) {
    throw tooManyRequests(
      `Rate limit exceeded: ${limit} requests per ${windowSeconds} s`,
      resetSeconds,
      {
        code: 'rate_limited',
        details: {
          bucket: verdict.bucket,
          limit,
          window_seconds: windowSeconds,
          reset_at: verdict.resetAt.toISOString(),
        },
      },
    )
  }
}

/**
 * Returns the middleware: every request with a subject is counted before the handler runs, and
 * answered by applyRateLimit (headers on what it lets through, 429 on what it refuses).
 */
export function rateLimit<E extends Env = Env>(options: RateLimitOptions<E>): MiddlewareHandler<E> {
  const { subject } = options
  const check = createRateLimitCheck(options)

  return async function rateLimit(c, next) {
    const who = subject(c)
    if (who === null || who === undefined || who === '') return await next()
    applyRateLimit(c, await check(who))
    await next()
  }
}
