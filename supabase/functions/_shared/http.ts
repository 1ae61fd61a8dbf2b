// Builds each function's Hono app with the shared middleware and the one error path.
import { Hono } from 'hono'
import type { Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { HTTPException } from 'hono/http-exception'
import { requestId } from 'hono/request-id'
import { routePath } from 'hono/route'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { z } from 'zod'
import {
  badRequest,
  fromZodError,
  HttpError,
  payloadTooLarge,
  toHttpError,
  truncateEcho,
} from './errors.ts'
import { allowedMethods } from './methods.ts'

/** Context variables every app has. Apps add their own through createApp's type parameter. */
export type AppVars = { requestId: string }

/** Where an unexpected error happened, for logs and error reports. */
export interface ErrorContext {
  app: string
  requestId: string
  method: string
  path: string
}

/** Receives every unexpected (500) error; sentry.ts supplies one. Must not throw. */
export type ErrorReporter = (err: unknown, ctx: ErrorContext) => void

/** One answered request, as a span or a metric needs it. */
export interface RequestRecord {
  app: string
  requestId: string
  method: string
  /** The route pattern that answered (e.g. `/policy-ranker/rank`), never the raw URL. */
  route: string
  status: number
  /** Time until the response was ready, milliseconds. */
  durationMs: number
  /** When the request arrived, epoch milliseconds. */
  startedAt: number
  /** The known error the caller was answered with, if any. */
  failure?: { code: string; message: string }
}

/** Called once per request when its response is ready; must be cheap (spans.ts, metrics.ts). */
export type RequestObserver = (record: RequestRecord) => void

export interface AppOptions {
  /** Largest accepted request body in bytes; larger ones get 413. Default 1 MiB. */
  maxBodyBytes?: number
  /** Called with each unexpected error after it is logged. Default: none. */
  reportError?: ErrorReporter
  /** Called with every answered request; a throw is logged, never seen by the caller. */
  observe?: RequestObserver
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024

// The known error each request was answered with, for its observer: kept beside the context
// rather than in it, so apps' typed variables stay theirs.
const failures = new WeakMap<Context, { code: string; message: string }>()

// An incoming id is reused so one request can be followed through the gateway, pg_net and logs;
// the length cap keeps a hostile header out of log lines.
const MAX_REQUEST_ID_LENGTH = 128

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { code: string; message: string; details?: unknown; request_id?: string }
}

const CODES_BY_STATUS: Partial<Record<number, string>> = {
  400: 'bad_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  429: 'too_many_requests',
  503: 'service_unavailable',
}

// Hono's own middleware throw HTTPException; give them the same envelope as ours.
const fromHonoException = (err: HTTPException): HttpError =>
  new HttpError(
    err.status as ContentfulStatusCode,
    CODES_BY_STATUS[err.status] ?? 'http_error',
    err.message || 'Request failed',
    { cause: err },
  )

/**
 * Creates the app for function `name`, mounted at `/<name>` because the gateway (local and
 * Supabase's) forwards `/functions/v1/<name>/…` as `/<name>/…`.
 */
export function createApp<V extends object = Record<never, never>>(
  name: string,
  options: AppOptions = {},
) {
  const { maxBodyBytes = DEFAULT_MAX_BODY_BYTES, reportError, observe } = options
  // strict: false so `/health` and `/health/` are the same route, as callers expect.
  const app = new Hono<{ Variables: AppVars & V }>({ strict: false }).basePath(`/${name}`)

  app.use(
    async function observeRequest(c, next) {
      const startedAt = Date.now()
      const start = performance.now()
      await next()
      const durationMs = performance.now() - start
      c.header('server-timing', `app;dur=${durationMs.toFixed(1)}`, { append: true })
      if (observe === undefined) return
      try {
        observe({
          app: name,
          requestId: c.get('requestId') ?? 'none',
          method: c.req.method,
          // After next() the route index is the handler (or middleware) that answered.
          route: routePath(c),
          status: c.res.status,
          durationMs,
          startedAt,
          failure: failures.get(c),
        })
      } catch (err) {
        console.error(`[${name}] request observer failed:`, err)
      }
    },
    requestId({ headerName: 'x-request-id', limitLength: MAX_REQUEST_ID_LENGTH }),
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: () => {
        throw payloadTooLarge(`Request body exceeds ${maxBodyBytes} bytes`, {
          details: { max_bytes: maxBodyBytes },
        })
      },
    }),
  )

  app.notFound((c) => {
    // The request's method and path are echoed, so they are cut short like any echoed input.
    const [method, path] = [truncateEcho(c.req.method), truncateEcho(c.req.path)]
    const allowed = allowedMethods(app, c.req.path)
    if (allowed.length > 0) {
      c.header('allow', allowed.join(', '))
      const message = `${method} is not allowed on ${path}; use ${allowed.join(', ')}`
      return c.json<ErrorBody>({ error: { code: 'method_not_allowed', message } }, 405)
    }
    return c.json<ErrorBody>({
      error: { code: 'not_found', message: `No route for ${method} ${path}` },
    }, 404)
  })

  app.onError((err, c) => {
    const requestId = c.get('requestId') ?? 'none'
    const known = err instanceof HTTPException ? fromHonoException(err) : toHttpError(err)
    if (known) {
      // Expected 5xx (e.g. the database is down) are still worth a log line with the cause.
      if (known.status >= 500) {
        console.error(`[${name}] ${requestId} ${known.code}:`, known.cause ?? known.message)
      }
      // RFC 6750: a 401 names the scheme; with a token that failed, says it was invalid.
      if (known.status === 401) {
        const sent = c.req.header('authorization') !== undefined
        c.header('www-authenticate', sent ? 'Bearer error="invalid_token"' : 'Bearer')
      }
      if (known.retryAfter !== undefined) {
        c.header('retry-after', String(Math.max(0, Math.ceil(known.retryAfter))))
      }
      failures.set(c, { code: known.code, message: known.message })
      const body: ErrorBody = { error: { code: known.code, message: known.message } }
      if (known.details !== undefined) body.error.details = known.details
      return c.json(body, known.status)
    }
    // Unexpected: the message may describe internals, so the caller only gets the request id.
    console.error(`[${name}] ${requestId} unhandled error:`, err)
    try {
      reportError?.(err, { app: name, requestId, method: c.req.method, path: c.req.path })
    } catch (reportErr) {
      console.error(`[${name}] ${requestId} error reporter failed:`, reportErr)
    }
    return c.json<ErrorBody>(
      { error: { code: 'internal_error', message: 'Internal error', request_id: requestId } },
      500,
    )
  })

  return app
}

/**
 * Reads and validates a JSON request body. An empty body is passed to the schema as `undefined`,
 * so `schema.optional()` or `schema.default({})` make the body optional.
 */
export async function parseJsonBody<S extends z.ZodType>(
  c: Context,
  schema: S,
): Promise<z.output<S>> {
  const text = await c.req.text()
  let data: unknown = undefined
  if (text.trim() !== '') {
    try {
      data = JSON.parse(text)
    } catch {
      throw badRequest('Request body is not valid JSON', { code: 'invalid_json' })
    }
  }
  const result = await schema.safeParseAsync(data)
  if (!result.success) throw fromZodError(result.error, 'body')
  return result.data
}
