// Typed HTTP errors, and the one table that maps Postgres failures to them.
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { ZodError } from 'zod'

export interface HttpErrorOptions {
  /** Machine-readable detail for the client, sent as `error.details`. */
  details?: unknown
  /** Seconds the client should wait before retrying; sent as a Retry-After header. */
  retryAfter?: number
  /** The underlying error, kept for logs; never sent to the client. */
  cause?: unknown
}

/** An error whose status, code and message are safe to send to the caller as they are. */
export class HttpError extends Error {
  override readonly name = 'HttpError'
  readonly details?: unknown
  readonly retryAfter?: number

  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    options: HttpErrorOptions = {},
  ) {
    super(message, { cause: options.cause })
    this.details = options.details
    this.retryAfter = options.retryAfter
  }
}

type Factory = (message: string, options?: HttpErrorOptions & { code?: string }) => HttpError

const factory =
  (status: ContentfulStatusCode, defaultCode: string): Factory => (message, options = {}) =>
    new HttpError(status, options.code ?? defaultCode, message, options)

export const badRequest: Factory = factory(400, 'bad_request')
export const unauthorized: Factory = factory(401, 'unauthorized')
export const forbidden: Factory = factory(403, 'forbidden')
export const notFound: Factory = factory(404, 'not_found')
export const conflict: Factory = factory(409, 'conflict')
export const gone: Factory = factory(410, 'gone')
export const payloadTooLarge: Factory = factory(413, 'payload_too_large')
export const serviceUnavailable: Factory = factory(503, 'service_unavailable')

/** 429 always carries Retry-After, so the wait is a required argument. */
export const tooManyRequests = (
  message: string,
  retryAfter: number,
  options: Omit<HttpErrorOptions, 'retryAfter'> & { code?: string } = {},
): HttpError =>
  new HttpError(429, options.code ?? 'too_many_requests', message, { ...options, retryAfter })

/** Renders a zod path the way a client would write it: `items[2].id`. */
export function formatPath(path: readonly PropertyKey[], root = 'body'): string {
  if (path.length === 0) return root
  return path.map((part, i) =>
    typeof part === 'number' ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`
  ).join('')
}

// What an error repeats of the caller's input is bounded: echoed in full, a 1 MB field or
// 20,000 unknown keys make the answer bigger than the request, and the log line with it. A
// handful of issues, each cut short, is all a caller needs to fix the request.
/** Characters of one echoed message, path or key at most. */
export const MAX_ECHO_CHARS = 200
/** Issues reported per validation error at most. */
export const MAX_ISSUES = 10
/** Unknown keys named per issue at most. */
export const MAX_KEYS_LISTED = 10

/** `text`, cut to `max` characters with a trailing "…" when it was longer. */
export function truncateEcho(text: string, max = MAX_ECHO_CHARS): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

// zod's own message for unknown keys lists every one of them; name a few and count the rest.
function issueMessage(issue: ZodError['issues'][number]): string {
  if (issue.code !== 'unrecognized_keys') return truncateEcho(issue.message)
  const listed = issue.keys.slice(0, MAX_KEYS_LISTED).map((k) => JSON.stringify(truncateEcho(k)))
  const more = issue.keys.length - listed.length
  return `Unrecognized key${issue.keys.length === 1 ? '' : 's'}: ${listed.join(', ')}${
    more > 0 ? ` and ${more} more` : ''
  }`
}

/**
 * Turns a zod failure into a 400 whose message names each offending field: the first
 * MAX_ISSUES issues, each cut to MAX_ECHO_CHARS, and how many more there were.
 */
export function fromZodError(err: ZodError, root = 'body'): HttpError {
  const issues = err.issues.slice(0, MAX_ISSUES).map((issue) => ({
    path: truncateEcho(formatPath(issue.path, root)),
    code: issue.code,
    message: issueMessage(issue),
  }))
  const omitted = err.issues.length - issues.length
  const message = issues.map((i) => `${i.path}: ${i.message}`).join('; ') +
    (omitted > 0 ? `; and ${omitted} more issue${omitted === 1 ? '' : 's'}` : '')
  return badRequest(message, {
    code: 'invalid_request',
    details: omitted > 0 ? { issues, omitted_issues: omitted } : { issues },
    cause: err,
  })
}

/**
 * The fields of a postgres.js `PostgresError` (or a socket error) that the mapping reads. Typed
 * structurally so this module does not depend on the driver.
 */
export interface PgErrorLike {
  code: string
  message: string
  column_name?: string
  constraint_name?: string
}

interface PgRule {
  /** SQLSTATE, or the driver's / socket's error code for connection failures. */
  readonly match: string
  /** For `raise exception` (P0001): only these exact messages are known to be client-facing. */
  readonly messages?: readonly string[]
  readonly toError: (err: PgErrorLike) => HttpError
}

const dbUnavailable = (err: PgErrorLike) =>
  serviceUnavailable('Database unavailable', { code: 'database_unavailable', cause: err })
const retryable = (err: PgErrorLike) =>
  serviceUnavailable('Database busy, retry', { code: 'database_busy', retryAfter: 1, cause: err })
// Postgres quotes the offending input in its messages (`invalid input syntax for type uuid: "…"`).
const echo400 = (err: PgErrorLike) =>
  badRequest(truncateEcho(err.message), { code: 'invalid_request', cause: err })

/**
 * Messages our SQL functions raise with plain `raise exception` (SQLSTATE P0001) that are meant
 * for callers. Anything raised with another message stays an opaque 500, because an unexpected
 * exception text may describe internals. Functions that validate arguments should prefer
 * `errcode = '22023'`, which maps to 400 without being listed here.
 */
export const PG_RAISE_MESSAGES: readonly string[] = [
  // Add each client-facing message here as the function that raises it lands.
]

/**
 * Postgres failures that have a meaning for the caller. Everything not listed is a bug or an
 * outage we do not understand, and becomes an opaque 500 (see http.ts). Messages from
 * constraint violations are not echoed: their DETAIL can contain other rows' values.
 */
export const PG_ERRORS: readonly PgRule[] = [
  {
    match: '23505', // unique_violation
    toError: (err) =>
      conflict('Conflicts with an existing record', {
        details: { constraint: err.constraint_name },
        cause: err,
      }),
  },
  {
    match: '23503', // foreign_key_violation
    toError: (err) =>
      conflict('Refers to a record that does not exist', {
        details: { constraint: err.constraint_name },
        cause: err,
      }),
  },
  {
    match: '23502', // not_null_violation
    toError: (err) =>
      badRequest(`${err.column_name ?? 'value'}: required`, {
        code: 'invalid_request',
        cause: err,
      }),
  },
  {
    match: '23514', // check_violation
    toError: (err) =>
      badRequest(`Violates check constraint ${err.constraint_name ?? '(unknown)'}`, {
        code: 'invalid_request',
        details: { constraint: err.constraint_name },
        cause: err,
      }),
  },
  { match: '22023', toError: echo400 }, // invalid_parameter_value: our functions' argument checks
  // no_data_found: our functions' "unknown <thing>" errors; the message names what is missing.
  { match: 'P0002', toError: (err) => notFound(truncateEcho(err.message), { cause: err }) },
  // Our own SQLSTATE for "too late": a window that has closed (e.g. a reward after its decision's
  // reward window). Class PT is free for applications; the message says which window.
  { match: 'PT410', toError: (err) => gone(truncateEcho(err.message), { cause: err }) },
  // Our SQL's "over the rate limit" (PostgREST's convention: PT429 answers 429); the message ends
  // "retry in N s", which becomes Retry-After.
  {
    match: 'PT429',
    toError: (err) =>
      tooManyRequests(err.message, Number(/retry in (\d+) s/.exec(err.message)?.[1] ?? 1), {
        code: 'rate_limited',
        cause: err,
      }),
  },
  { match: '22P02', toError: echo400 }, // invalid_text_representation: e.g. a malformed uuid
  { match: 'P0001', messages: PG_RAISE_MESSAGES, toError: echo400 }, // raise_exception
  {
    match: '42501', // insufficient_privilege, including RLS "new row violates row-level security"
    toError: (err) => forbidden('Permission denied', { cause: err }),
  },
  {
    match: '57014', // query_canceled: statement_timeout
    toError: (err) =>
      serviceUnavailable('Database statement timed out', { code: 'database_timeout', cause: err }),
  },
  { match: '40001', toError: retryable }, // serialization_failure
  { match: '40P01', toError: retryable }, // deadlock_detected
  { match: '55P03', toError: retryable }, // lock_not_available: e.g. a lock_timeout ran out
  { match: '53300', toError: dbUnavailable }, // too_many_connections
  { match: '57P01', toError: dbUnavailable }, // admin_shutdown
  { match: '57P03', toError: dbUnavailable }, // cannot_connect_now (starting up)
  // postgres.js connection errors and the socket errors beneath them.
  ...[
    'CONNECT_TIMEOUT',
    'CONNECTION_CLOSED',
    'CONNECTION_ENDED',
    'CONNECTION_DESTROYED',
    'ECONNREFUSED',
    'ECONNRESET',
    'ENOTFOUND',
    'ETIMEDOUT',
    'EHOSTUNREACH',
  ].map((match): PgRule => ({ match, toError: dbUnavailable })),
]

const isPgErrorLike = (err: unknown): err is PgErrorLike =>
  err instanceof Error && typeof (err as { code?: unknown }).code === 'string'

/** Maps an error to the HttpError a caller should see, or null when it must stay opaque. */
export function toHttpError(err: unknown): HttpError | null {
  if (err instanceof HttpError) return err
  if (err instanceof ZodError) return fromZodError(err)
  if (!isPgErrorLike(err)) return null
  const rule = PG_ERRORS.find((r) =>
    r.match === err.code && (r.messages === undefined || r.messages.includes(err.message))
  )
  return rule ? rule.toError(err) : null
}
